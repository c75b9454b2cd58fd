"""Shared fixtures: a network with trained-looking weights and batch-norm statistics."""

from __future__ import annotations

import pytest
import torch
from ascbench_puy2021.model import SP4ASCNet
from torch import nn

#: Channel of conv1 given a near-zero running variance, as in the released CE checkpoint
#: (running_var 9.3e-11 there): folding with and without eps then differ visibly.
TINY_VAR_CHANNEL = 5


def randomise(net: SP4ASCNet, seed: int = 0, tiny_var: bool = True) -> SP4ASCNet:
    """Give every parameter and batch-norm statistic non-trivial values, in place."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            fan_in = p[0].numel() if p.dim() > 1 else 100
            p.copy_(torch.randn(p.shape, generator=gen) * 1.5 / fan_in**0.5)
        net.fc2.weight.mul_(0.03)  # logits of a few units, so that softmax is not saturated
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(1.0 + 0.2 * torch.randn(m.num_features, generator=gen))
                m.running_mean.copy_(torch.randn(m.num_features, generator=gen))
                m.running_var.copy_(0.5 + torch.rand(m.num_features, generator=gen))
                m.num_batches_tracked.fill_(1234)
        # log-mel-like scale for BN-mel (dB values around -40 with spread 15)
        net.bn0.running_mean.copy_(-40.0 + 5.0 * torch.randn(net.bn0.num_features, generator=gen))
        net.bn0.running_var.copy_(225.0 * (0.5 + torch.rand(net.bn0.num_features, generator=gen)))
        if tiny_var:
            # A near-dead channel as in the released CE checkpoint (its 1x1 weight 6.7e-5,
            # running_var 9.3e-11, gamma 0.80): the fold without eps scales its depthwise
            # kernels by ~1e5, still within float16 range.
            c = TINY_VAR_CHANNEL
            net.conv1.ch_conv1.weight[c] = 1e-4
            net.conv1.sp_conv1.weight[c] = torch.tensor([-0.1, -0.35, -0.23]).view(1, 3, 1)
            net.conv1.sp_conv2.weight[c] = torch.tensor([0.2, 0.44, 0.0035]).view(1, 1, 3)
            net.conv1.bn.weight[c] = 0.8
            net.conv1.bn.running_mean[c] = 0.0
            net.conv1.bn.running_var[c] = 1e-10
    return net.eval()


def logmel_like(batch: int, freq: int = 256, time: int = 64, seed: int = 1) -> torch.Tensor:
    """Random features ``(batch, 1, freq, time)`` on a dB-like scale."""
    gen = torch.Generator().manual_seed(seed)
    return -40.0 + 15.0 * torch.randn(batch, 1, freq, time, generator=gen)


@pytest.fixture(autouse=True)
def _one_thread():
    """These tests run small tensors: one intra-op thread is faster than two, and far faster
    on a loaded shared machine (OpenMP threads spin while waiting for a busy core)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def make_trained():
    """``make_trained(seed=0, tiny_var=True, **net_kwargs)`` -> a randomised SP4ASCNet."""

    def make(seed: int = 0, tiny_var: bool = True, **kwargs) -> SP4ASCNet:
        return randomise(SP4ASCNet(**kwargs), seed=seed, tiny_var=tiny_var)

    return make


@pytest.fixture
def features():
    """``features(batch, freq=256, time=64, seed=1)`` -> dB-like random features."""
    return logmel_like


@pytest.fixture
def randomise_net():
    """``randomise_net(net, seed=0, tiny_var=True)``: trained-looking values, in place."""
    return randomise
