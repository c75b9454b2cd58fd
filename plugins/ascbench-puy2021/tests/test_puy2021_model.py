"""The SP4ASC network: upstream names, exact counts (report Table 1), layout, SpecAugment."""

from __future__ import annotations

from collections import defaultdict

import pytest
import torch
import torch.nn.functional as F
from ascbench_puy2021.model import SP4ASCNet, drop_stripes, sp4asc_cnn

from ascbench.complexity import measure
from ascbench.plugins import load_registry

# The 41 entries of the released checkpoints' "net" state dict (valeoai/SP4ASC Cnn6_60k).
BN = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
UPSTREAM_KEYS = (
    [f"bn0.{k}" for k in BN]
    + [
        key
        for i in range(1, 5)
        for key in (
            [f"conv{i}.bn.{k}" for k in BN]
            + [f"conv{i}.ch_conv1.weight", f"conv{i}.sp_conv1.weight", f"conv{i}.sp_conv2.weight"]
        )
    ]
    + ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
)

# Small time axis: parameter counts do not depend on the number of frames.
SHAPE = (1, 256, 24)


@pytest.fixture(scope="module")
def rules():
    registry = load_registry(environment=False)
    return registry.ruleset("dcase2021"), registry.ruleset("dcase2022")


def by_layer(report) -> dict[str, int]:
    """Parameters per Table 1 row: bn0, conv1..conv4 and the MLP (fc1 + fc2)."""
    rows: dict[str, int] = defaultdict(int)
    for layer in report.layers:
        top = layer.name.removeprefix("model.").split(".")[0]
        rows["mlp" if top in ("fc1", "fc2") else top] += layer.parameters
    return dict(rows)


def test_state_dict_has_exactly_the_upstream_keys():
    net = SP4ASCNet(specaugment=[128, 2, 32, 2])
    assert sorted(net.state_dict()) == sorted(UPSTREAM_KEYS)
    assert len(UPSTREAM_KEYS) == 41


def test_parameter_counts_torch_and_with_running_statistics(rules):
    dcase2021, dcase2022 = rules
    net = SP4ASCNet()
    assert sum(p.numel() for p in net.parameters()) == 62_922
    torch_style = measure(net, dcase2022, SHAPE)
    assert torch_style.parameters == 62_922
    assert by_layer(torch_style) == {
        "bn0": 512,
        "conv1": 576,
        "conv2": 9_216,
        "conv3": 17_408,
        "conv4": 17_408,
        "mlp": 17_802,
    }
    keras_style = measure(net, dcase2021, SHAPE)  # BN running mean and variance counted
    assert keras_style.parameters == 64_330
    assert by_layer(keras_style) == {
        "bn0": 1_024,
        "conv1": 704,
        "conv2": 9_472,
        "conv3": 17_664,
        "conv4": 17_664,
        "mlp": 17_802,
    }


def test_feature_maps_have_the_sizes_of_table_1():
    """C x T x F after each block for a 10-s clip (431 frames, 256 mels)."""
    net = SP4ASCNet().eval()
    sizes = {}
    for name in ("conv1", "conv2", "conv3", "conv4"):
        getattr(net, name).register_forward_hook(
            lambda _m, _i, out, name=name: sizes.__setitem__(name, tuple(out.shape[1:]))
        )
    with torch.no_grad():
        out = net(torch.randn(2, 1, 256, 431))
    assert out.shape == (2, 10)
    assert sizes == {
        "conv1": (64, 215, 128),
        "conv2": (128, 107, 64),
        "conv3": (128, 53, 32),
        "conv4": (128, 26, 16),
    }


def upstream_reference(net: SP4ASCNet, x_btf: torch.Tensor) -> torch.Tensor:
    """Eval-mode forward written directly in the upstream layout (batch, 1, time, mel) with
    functional ops, from the state dict alone."""
    s = net.state_dict()

    def bn(x: torch.Tensor, pre: str) -> torch.Tensor:
        return F.batch_norm(
            x,
            s[pre + "running_mean"],
            s[pre + "running_var"],
            s[pre + "weight"],
            s[pre + "bias"],
            training=False,
            eps=1e-5,
        )

    x = bn(x_btf.transpose(1, 3), "bn0.").transpose(1, 3)  # BN over the mel axis
    for i in range(1, 5):
        pre = f"conv{i}."
        c = s[pre + "ch_conv1.weight"].shape[0]
        x = F.conv2d(x, s[pre + "ch_conv1.weight"])
        x = F.conv2d(x, s[pre + "sp_conv1.weight"], padding=(2, 0), dilation=(2, 1), groups=c) + (
            F.conv2d(x, s[pre + "sp_conv2.weight"], padding=(0, 2), dilation=(1, 2), groups=c)
        )
        x = F.avg_pool2d(F.relu(bn(x, pre + "bn.")), 2)
    x = x.mean(dim=3)
    x = torch.max(x, dim=2).values + x.mean(dim=2)
    x = F.relu(F.linear(x, s["fc1.weight"], s["fc1.bias"]))
    return F.linear(x, s["fc2.weight"], s["fc2.bias"])


def test_forward_equals_the_upstream_layout_reference(make_trained, features):
    net = make_trained(tiny_var=False)
    x = features(3, time=40)  # ascbench layout (batch, 1, mel, time)
    with torch.no_grad():
        ours = net(x)
        ref = upstream_reference(net, x.transpose(2, 3))
    assert torch.allclose(ours, ref, rtol=1e-4, atol=1e-4)


def test_time_and_frequency_axes_are_not_swapped(make_trained, features):
    """On a square input the reference also runs untransposed: only one layout matches."""
    net = make_trained(tiny_var=False, input_shape=(1, 48, 48))
    x = features(3, freq=48, time=48)
    with torch.no_grad():
        ours = net(x)
        right = upstream_reference(net, x.transpose(2, 3))
        swapped = upstream_reference(net, x)
    assert torch.allclose(ours, right, rtol=1e-4, atol=1e-4)
    assert not torch.allclose(ours, swapped, atol=1e-2)


def test_factory_takes_shape_and_classes_from_ascbench():
    net = sp4asc_cnn(num_classes=7, input_shape=(2, 64, 30), dropout=0.1, specaugment=None)
    assert net.bn0.num_features == 64 and net.conv1.ch_conv1.in_channels == 2
    assert net.fc2.out_features == 7 and net.dropout1.p == 0.1
    assert net.eval()(torch.randn(1, 2, 64, 30)).shape == (1, 7)
    with pytest.raises(ValueError, match=r"\[T, n, F, m\]"):
        sp4asc_cnn(specaugment=[128, 2, 32])


def test_drop_stripes_follows_torchlibrosa_distribution():
    torch.manual_seed(0)
    x = torch.ones(4000, 1, 50, 3)
    out = drop_stripes(x, 2, max_width=8, stripes=1)
    zero = out[:, 0, :, 0] == 0  # (batch, time)
    widths = zero.sum(1)
    # one stripe of width uniform in 0..7; its frames are contiguous; per-example draws
    assert int(widths.min()) == 0 and int(widths.max()) == 7
    counts = torch.bincount(widths, minlength=8).float() / len(widths)
    assert torch.all((counts - 1 / 8).abs() < 0.03)
    for row in zero[widths > 0][:200]:
        idx = row.nonzero().flatten()
        assert int(idx[-1] - idx[0] + 1) == len(idx)
    assert torch.equal(out[:, :, :, 0], out[:, :, :, 2])  # whole time frames are masked
    # start uniform in 0..length - width - 1: the last frame is never masked (torchlibrosa)
    assert not bool(zero[:, -1].any()) and bool(zero[:, 0].any())


def test_drop_stripes_caps_widths_on_short_axes():
    torch.manual_seed(0)
    out = drop_stripes(torch.ones(200, 1, 5, 4), 2, max_width=128, stripes=2)
    assert bool((out == 1).any(dim=2).all())  # never the whole axis in one stripe


def test_specaugment_masks_after_bn_mel_per_example_in_training_only(make_trained, features):
    net = make_trained(specaugment=[20, 2, 16, 2])
    seen = []
    net.conv1.register_forward_pre_hook(lambda _m, args: seen.append(args[0].detach().clone()))
    x = features(8, time=60)
    torch.manual_seed(3)
    with torch.no_grad():
        net.eval()(x)
        net.test_time_augmentation(True)(x)  # BN-mel in eval mode, SpecAugment active
        net.train()(x)  # training: masks too (BN-mel on batch statistics)
    clean, masked, training = seen
    assert not bool((clean == 0).any())  # BN-mel output has no exact zeros
    assert bool((training == 0).any())
    zeros = masked == 0  # (batch, 1, time, mel)
    assert bool(zeros.any())
    assert torch.equal(masked[~zeros], clean[~zeros])  # masking after BN-mel, fill 0
    time_frames = zeros.all(dim=3)[:, 0]  # whole frames
    mel_bins = zeros.all(dim=2)[:, 0]  # whole bins
    # every zero is explained by a masked frame or a masked bin (fill 0 after BN-mel)
    explained = time_frames[:, None, :, None] | mel_bins[:, None, None, :]
    assert torch.equal(zeros, explained)
    assert int(time_frames.sum(1).max()) <= 2 * 19 and int(mel_bins.sum(1).max()) <= 2 * 15
    assert len({tuple(r.tolist()) for r in time_frames}) > 1  # drawn per example


def test_test_time_augmentation_mode_keeps_dropout_and_bn_in_eval(make_trained):
    net = make_trained(specaugment=[128, 2, 32, 2]).train()
    net.test_time_augmentation(True)
    assert net.spec_augmenter.training
    others = [m for name, m in net.named_modules() if name not in ("", "spec_augmenter")]
    assert not any(m.training for m in others)
    net.test_time_augmentation(False)
    assert not any(m.training for m in net.modules())
