"""The authors' test path: BN folding (without / with eps), fp16 round trip, 30-pass TTA."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from ascbench_puy2021.inference import TEST_CHAIN, compress, deploy, predict_proba
from torch import nn

from ascbench.complexity import measure
from ascbench.compressors.fold import Affine
from ascbench.compressors.fp16 import Float16Storage
from ascbench.plugins import load_registry

SHAPE = (1, 256, 24)


@pytest.fixture(scope="module")
def rules():
    registry = load_registry(environment=False)
    return registry.ruleset("dcase2021"), registry.ruleset("dcase2022")


def logits(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(x)


def test_fold_with_eps_equals_the_unfolded_eval_network(make_trained, features):
    net = make_trained()
    x = features(4, time=32)
    ref = logits(net, x)
    exact = logits(deploy(net, eps=True, fp16=False), x)
    assert (exact - ref).abs().max() <= 1e-5 * max(1.0, float(ref.abs().max()))
    # and the fold without eps does not (conv1 has a channel with running_var = 1e-10)
    no_eps = logits(deploy(net, eps=False, fp16=False), x)
    assert float((no_eps - ref).abs().max()) > 0.1


def test_fold_without_eps_equals_batch_norms_with_eps_zero(make_trained, features):
    """The authors' fold uses sqrt(running_var): an unfolded network whose batch norms have
    eps = 0 is the independent reference."""
    net = make_trained()
    reference = copy.deepcopy(net)
    for m in reference.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eps = 0.0
    x = features(4, time=32)
    ref = logits(reference, x)
    folded = logits(deploy(net, eps=False, fp16=False), x)
    assert (folded - ref).abs().max() <= 1e-5 * max(1.0, float(ref.abs().max()))
    assert logits(net, x).sub(ref).abs().max() > 0.1  # eps matters for this network


def test_folded_network_has_the_test_time_counts_of_table_1(make_trained, rules):
    dcase2021, dcase2022 = rules
    folded = deploy(make_trained(), eps=False, fp16=False)
    assert isinstance(folded.bn0, Affine) and folded.bn0.weight.shape == (256,)
    for i in range(1, 5):
        block = getattr(folded, f"conv{i}")
        assert isinstance(block.bn, nn.Identity)
        assert block.sp_conv1.bias is None and block.sp_conv2.bias is not None
    rows = {"bn0": 0, "conv1": 0, "conv2": 0, "conv3": 0, "conv4": 0, "mlp": 0}
    for name, p in folded.named_parameters():
        top = name.split(".")[0]
        rows["mlp" if top in ("fc1", "fc2") else top] += p.numel()
    assert rows == {
        "bn0": 512,
        "conv1": 512,
        "conv2": 9_088,
        "conv3": 17_280,
        "conv4": 17_280,
        "mlp": 17_802,
    }
    for ruleset in (dcase2021, dcase2022):  # no running statistics are left to count
        assert measure(folded, ruleset, SHAPE).parameters == 62_474


def test_fp16_round_trip_equals_casting_to_half_and_back(make_trained, features):
    net = make_trained()
    deployed = deploy(net)  # fold without eps, then ascbench's fp16 storage
    assert isinstance(deployed, Float16Storage)
    assert {p.dtype for p in deployed.parameters()} == {torch.float16}
    manual = deploy(net, fp16=False)
    with torch.no_grad():
        for p in manual.parameters():
            p.copy_(p.half().float())  # the authors' net.half().float()
    x = features(3, time=32)
    assert torch.equal(logits(deployed, x), logits(manual, x))
    assert not torch.equal(logits(deployed, x), logits(deploy(net, fp16=False), x))


def test_deployed_network_fits_the_2021_limit(make_trained, rules):
    dcase2021, _ = rules
    report = measure(deploy(make_trained()), dcase2021, SHAPE)
    assert (report.parameters, report.bytes) == (62_474, 124_948)
    assert report.values_by_dtype == {"float16": 62_474}
    assert report.status == "pass"


def test_system_chain_is_the_test_path(make_trained, features):
    net = make_trained()
    x = features(2, time=32)
    assert [(c.name, c.params) for c in TEST_CHAIN] == [
        ("fold_batchnorm", {"eps": False, "arithmetic": "native"}),
        ("fp16", {}),
    ]
    assert torch.equal(logits(compress(net, TEST_CHAIN), x), logits(deploy(net), x))
    assert not any(m.training for m in net.modules()) and isinstance(net.conv1.bn, nn.BatchNorm2d)


def test_tta_averages_softmax_of_augmented_passes(make_trained, features):
    net = deploy(make_trained(specaugment=[20, 2, 32, 2], tiny_var=False))
    x = features(3, time=24)
    plain = predict_proba(net, x, passes=1)
    assert torch.allclose(plain, F.softmax(logits(net, x), dim=1))

    state = torch.random.get_rng_state()
    tta = predict_proba(net, x, passes=3, seed=7)
    assert torch.equal(torch.random.get_rng_state(), state)  # caller's generator untouched
    assert torch.equal(tta, predict_proba(net, x, passes=3, seed=7))  # seeded
    assert not torch.allclose(tta, plain, atol=1e-4)
    assert torch.allclose(tta.sum(1), torch.ones(3))
    assert not any(m.training for m in net.modules())  # left in eval mode, SpecAugment off

    # independent loop: SpecAugment on, everything else in eval mode, mean of softmax
    # with torch's generator seeded per (seed, clip, pass), clips named by their positions
    from ascbench.evaluation import clip_seed

    inner = net.model
    inner.eval()
    inner.spec_augmenter.train()
    manual = torch.zeros(3, 10, dtype=torch.float64)
    with torch.no_grad():
        for i in range(3):
            for tta_pass in range(3):
                torch.manual_seed(clip_seed(7, str(i), tta_pass))
                manual[i] += F.softmax(net(x[i : i + 1]).double(), dim=1)[0] / 3
    inner.eval()
    assert torch.allclose(tta, manual.float(), atol=1e-6)
