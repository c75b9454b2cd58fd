"""The training-speed benchmark's count of the MACs a training step executes
(benchmarks/training_speed_worker.py), which the README's training-speed table divides by the
step time."""

from __future__ import annotations

import torch
from torch import nn

from tests.scripts import load_script


def _worker():
    return load_script("benchmarks/training_speed_worker.py", "training_speed_worker")


def _step_macs(model: nn.Module, x: torch.Tensor) -> int:
    counter = _worker().StepCounter()
    with counter.mode:
        model(x).sum().backward()
    return counter.macs


def test_a_depthwise_convs_backward_is_counted_by_its_groups():
    # forward: 8 channels x 1 tap-set of 9 x 6x6 outputs x batch 2; the input needs a
    # gradient and so does the weight: 3 forwards' worth (torch's formula: 8x more)
    conv = nn.Conv2d(8, 8, 3, groups=8, bias=False)
    x = torch.randn(2, 8, 8, 8, requires_grad=True)
    forward = 2 * 8 * 9 * 6 * 6
    assert _step_macs(conv, x) == 3 * forward


def test_frozen_layers_and_the_first_layers_input_have_no_gradient_macs():
    first = nn.Conv2d(1, 4, 3, bias=False)
    second = nn.Conv2d(4, 4, 3, bias=False)
    model = nn.Sequential(first, nn.ReLU(), second)
    x = torch.randn(2, 1, 10, 10)  # features: no gradient
    f1, f2 = 2 * 4 * 9 * 8 * 8, 2 * 4 * 4 * 9 * 6 * 6
    # first: forward + weight gradient; second: forward + input and weight gradients
    assert _step_macs(model, x) == 2 * f1 + 3 * f2
    first.weight.requires_grad_(False)  # frozen: no weight gradient, and no input gradient
    # for the second either, as nothing before it needs one
    assert _step_macs(model, x) == f1 + 2 * f2


def test_the_time_breakdown_tells_depthwise_from_dense_convolutions():
    category = _worker().op_category
    depthwise, dense = [16, 1, 3, 3], [16, 8, 3, 3]
    x, grad = [4, 16, 10, 10], [4, 16, 8, 8]
    assert category("aten::mkldnn_convolution", [x, depthwise, []]) == "grouped conv"
    assert category("aten::convolution_backward", [grad, x, depthwise]) == "grouped conv"
    assert category("aten::mkldnn_convolution", [[4, 8, 10, 10], dense, []]) == "dense conv"
    # one input channel (a first layer) is dense, whatever the weight's second dimension
    assert category("aten::mkldnn_convolution", [[4, 1, 10, 10], depthwise, []]) == "dense conv"
    assert category("aten::native_batch_norm", [x]) == "batch norm"
    assert category("aten::_foreach_mul_", [[]]) == "optimizer+EMA"
    assert category("aten::addmm", [[10], [4, 8], [8, 10]]) == "matmul"
    assert category("aten::silu", [x]) == "other"
