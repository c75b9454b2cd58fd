from __future__ import annotations

import numpy as np
import pytest
import torch

from ascbench.systems import SpecAugment
from ascbench.training.augment import (
    between_class_mix,
    level_db,
    mixup,
    random_shift,
    random_time_crop,
    spec_augment,
    stripe_mask,
)
from ascbench.training.errors import RecipeError
from ascbench.training.losses import one_hot


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def ramp(b=4, c=2, f=6, t=20) -> torch.Tensor:
    """Distinct non-zero values: x[b, c, f, t] = 1 + t + 100 f + 10000 c + 1e6 b."""
    bi, ci, fi, ti = torch.meshgrid(
        torch.arange(b), torch.arange(c), torch.arange(f), torch.arange(t), indexing="ij"
    )
    return (1 + ti + 100 * fi + 10000 * ci + 1e6 * bi).double()


def runs(row: torch.Tensor) -> list[tuple[int, int]]:
    """(start, length) of the runs of True in a 1-D bool tensor."""
    out, start = [], None
    for i, v in enumerate(row.tolist() + [False]):
        if v and start is None:
            start = i
        if not v and start is not None:
            out.append((start, i - start))
            start = None
    return out


def test_stripe_mask_widths_cover_zero_to_max_inclusive():
    m = stripe_mask(4000, 50, 1, 5, rng())
    widths = m.sum(1)
    assert widths.min() == 0 and widths.max() == 5
    assert set(widths.tolist()) == set(range(6))
    for row in m[:200]:
        assert len(runs(row)) <= 1  # one contiguous stripe
    # every start position in 0..T-w is possible: first and last frames get masked
    assert m[:, 0].any() and m[:, -1].any()


def test_spec_augment_masks_whole_stripes_per_sample():
    x = ramp(b=8)
    settings = SpecAugment(time_masks=2, time_width=4, freq_masks=1, freq_width=2, per_sample=True)
    y = spec_augment(x, settings, rng(1))
    assert y.shape == x.shape
    zero = y == 0
    masks = []
    for b in range(8):
        z = zero[b]
        # the same mask on every channel
        assert torch.equal(z[0], z[1])
        cols = z[0].all(dim=0)  # masked time frames (whole columns)
        rows = z[0].all(dim=1)  # masked frequency bins (whole rows)
        # every zero lies in a masked column or row, and nothing else changed
        assert torch.equal(z[0], cols.view(1, -1) | rows.view(-1, 1))
        assert torch.equal(y[b][~z], x[b][~z])
        # two stripes of at most 4 frames: at most two runs, 8 frames in all
        assert cols.sum() <= 8 and len(runs(cols)) <= 2
        assert rows.sum() <= 2
        masks.append(z[0])
    assert any(not torch.equal(masks[0], m) for m in masks[1:])


def test_spec_augment_per_batch_shares_one_mask():
    x = ramp(b=6)
    settings = SpecAugment(time_masks=1, time_width=5, freq_masks=1, freq_width=3, per_sample=False)
    zero = spec_augment(x, settings, rng(3)) == 0
    assert zero.any()
    for b in range(1, 6):
        assert torch.equal(zero[b], zero[0])


def test_spec_augment_with_zero_widths_is_identity():
    x = ramp()
    settings = SpecAugment(time_masks=2, time_width=0, freq_masks=2, freq_width=0)
    assert torch.equal(spec_augment(x, settings, rng()), x)


def test_random_time_crop_takes_contiguous_windows():
    x = ramp(b=16, t=20)
    y = random_time_crop(x, 8, rng())
    assert y.shape == (16, 2, 6, 8)
    starts = set()
    for b in range(16):
        offset = int(y[b, 0, 0, 0] - x[b, 0, 0, 0])
        starts.add(offset)
        assert torch.equal(y[b], x[b, ..., offset : offset + 8])
    assert len(starts) > 1
    with pytest.raises(RecipeError):
        random_time_crop(x, 21, rng())


def test_random_shift_roll_and_nearest():
    x = ramp(b=16, t=10)
    rolled = random_shift(x, 3, -1, "roll", rng(2))
    shifts = set()
    for b in range(16):
        matches = [s for s in range(-3, 4) if torch.equal(rolled[b], torch.roll(x[b], s, -1))]
        assert len(matches) == 1
        shifts.add(matches[0])
    assert len(shifts) > 2
    near = random_shift(x, 3, -2, "nearest", rng(2))
    for b in range(16):
        col = near[b, 0, :, 0]
        src = (col - 1 - 1e6 * b) / 100  # the source frequency bin of each output bin
        assert torch.all(src.diff() >= 0) and torch.all(src.diff() <= 1)
        assert src.min() >= 0 and src.max() <= 5


def test_mixup_batch_mode_one_lambda_with_permutation():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(10, 1, 4, 5, generator=g)
    labels = torch.arange(10)
    mixed, (targets,) = mixup(x, [one_hot(labels, 10)], 0.4, "batch", rng(7))
    assert mixed.shape == x.shape and targets.shape == (10, 10)
    assert torch.allclose(targets.sum(1), torch.ones(10))
    ar = torch.arange(10)
    own = targets[ar, labels]
    others = targets.clone()
    others[ar, labels] = 0
    moved = others.sum(1) > 0
    perm = torch.where(moved, others.argmax(1), ar)
    assert sorted(perm.tolist()) == list(range(10))  # the partners form a permutation
    assert moved.sum() >= 2
    lam = own[moved]
    assert torch.allclose(lam, lam[0].expand_as(lam))  # one lambda for the whole batch
    assert torch.allclose(mixed, lam[0] * x + (1 - lam[0]) * x[perm], atol=1e-6)


def test_mixup_sample_mode_draws_one_lambda_per_example():
    x = torch.zeros(64, 1, 2, 2)
    labels = torch.arange(64) % 10
    _, (targets,) = mixup(x, [one_hot(labels, 10)], 1.0, "sample", rng(1))
    top = targets.max(1).values
    assert len(set(top.round(decimals=4).tolist())) > 10


def test_mixup_two_batches_halves_the_batch_and_mixes_teacher_alike():
    x = torch.randn(12, 1, 3, 4, generator=torch.Generator().manual_seed(2))
    labels = torch.arange(12) % 10
    teacher = torch.softmax(torch.randn(12, 10, generator=torch.Generator().manual_seed(3)), 1)
    mixed, (targets, t_mixed) = mixup(x, [one_hot(labels, 10), teacher], 0.4, "two_batches", rng())
    assert mixed.shape == (6, 1, 3, 4) and targets.shape == (6, 10) and t_mixed.shape == (6, 10)
    lam = (mixed - x[6:]).flatten(1).sum(1) / (x[:6] - x[6:]).flatten(1).sum(1)
    lt = lam.view(-1, 1)
    assert torch.allclose(
        targets, lt * one_hot(labels[:6], 10) + (1 - lt) * one_hot(labels[6:], 10), atol=1e-5
    )
    assert torch.allclose(t_mixed, lt * teacher[:6] + (1 - lt) * teacher[6:], atol=1e-5)


def test_mixup_unknown_mode():
    with pytest.raises(RecipeError):
        mixup(torch.zeros(2, 1, 1, 1), [], 0.2, "cutmix", rng())


def test_between_class_mix_matches_power_domain_formula():
    g = torch.Generator().manual_seed(0)
    x1 = 20 * torch.randn(3, 1, 5, 7, generator=g, dtype=torch.float64) - 30
    x2 = 20 * torch.randn(3, 1, 5, 7, generator=g, dtype=torch.float64) - 50
    r = torch.tensor([0.2, 0.5, 0.9], dtype=torch.float64)
    out = between_class_mix(x1, x2, r).numpy()
    a, b = x1.numpy(), x2.numpy()
    for i in range(3):
        p1, p2 = 10 ** (a[i] / 10), 10 ** (b[i] / 10)
        g1 = 10 * np.log10(p1.mean(axis=(0, 1)).max())
        g2 = 10 * np.log10(p2.mean(axis=(0, 1)).max())
        p = 1 / (1 + 10 ** ((g1 - g2) / 20) * (1 - r[i].item()) / r[i].item())
        ref = 10 * np.log10((p * p * p1 + (1 - p) ** 2 * p2) / (p * p + (1 - p) ** 2))
        np.testing.assert_allclose(out[i], ref, rtol=1e-9, atol=1e-9)
    assert np.allclose(
        level_db(x1).numpy()[0], 10 * np.log10((10 ** (a[0] / 10)).mean((0, 1)).max())
    )
    # mixing a clip with itself gives the clip back
    same = between_class_mix(x1, x1, r)
    assert torch.allclose(same, x1, atol=1e-9)


def test_between_class_mode_labels_use_ratio():
    x = torch.randn(8, 1, 4, 6, generator=torch.Generator().manual_seed(4))
    labels = torch.arange(8)
    mixed, (targets,) = mixup(x, [one_hot(labels, 10)], 0.6, "between_class", rng(5))
    assert mixed.shape == x.shape and torch.isfinite(mixed).all()
    assert torch.allclose(targets.sum(1), torch.ones(8))


def test_augmentations_are_reproducible_with_the_same_generator():
    x = torch.randn(6, 1, 8, 12, generator=torch.Generator().manual_seed(9))
    settings = SpecAugment(time_masks=2, time_width=3, freq_masks=2, freq_width=2)

    def pipeline(seed):
        r = rng(seed)
        y, t = mixup(random_time_crop(x, 10, r), [one_hot(torch.arange(6), 10)], 0.3, "batch", r)
        return spec_augment(y, settings, r), t[0]

    a, b, c = pipeline(1), pipeline(1), pipeline(2)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


def test_spec_augment_time_width_scales_from_its_reference_clip_length():
    ten_second = SpecAugment(time_masks=1, time_width=64, freq_masks=0, reference_frames=640)
    assert ten_second.time_width_for(640) == 64
    assert ten_second.time_width_for(64) == 6  # a 1-s clip: 10 % of its frames, not all of them
    assert ten_second.time_width_for(3) == 1  # never below one frame
    assert SpecAugment(time_width=64).time_width_for(64) == 64  # no reference: as given
    x = torch.ones(200, 1, 4, 64)
    out = spec_augment(x, ten_second, np.random.default_rng(0))
    masked_frames = (out[:, 0, 0, :] == 0).sum(dim=1)
    assert int(masked_frames.max()) <= 6 and int(masked_frames.max()) >= 5
