"""Batch-norm folding: ``fold_batchnorm``.

An eval-mode batch norm computes ``y = s * (x - mean) + beta`` per channel with
``s = gamma / sqrt(running_var + eps)``. When ``x`` is the output of a convolution (or the sum
of several convolutions' outputs), ``s`` folds into every kernel and the shift
``beta - s * mean`` becomes a bias, so the batch norm disappears. A batch norm that follows no
convolution (e.g. an input BN over mel bins) becomes an :class:`Affine` layer with one weight
and one bias per channel, which drops the running statistics.

``eps=False`` reproduces the SP4ASC authors' fold (valeoai/SP4ASC ``merge_conv_bn``), which
uses ``sqrt(running_var)`` without the epsilon; their reported scores come from that fold, and
for a channel with a near-zero running variance it changes the outputs visibly (see
``/work/shared/weights/sp4asc/README.md``). ``eps=True`` (default) is the exact fold.

Which batch norm follows which convolution is found by :mod:`ascbench.compressors.discovery`
(declared ``fold_pairs()``, the compressor's ``pairs`` parameter, fx tracing, or
``nn.Sequential`` adjacency).
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import Field
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from ascbench.compressors.base import (
    CompressionError,
    CompressorBase,
    CompressorParams,
    clone_model,
    get_module,
    note,
    set_module,
)
from ascbench.compressors.discovery import FOLDABLE_TYPES, Discovery, FoldPair, find_pairs


class Affine(nn.Module):
    """Per-channel ``y = x * weight + bias`` along dim 1: an eval-mode batch norm, folded.

    ``weight`` and ``bias`` have one value per channel (e.g. per frequency bin for a BN over
    mel bins applied to the transposed input), so it counts 2 parameters per channel.
    """

    def __init__(
        self,
        num_features: int,
        weight: torch.Tensor | None = None,
        bias: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        self.num_features = int(num_features)
        self.weight = nn.Parameter(
            torch.ones(num_features) if weight is None else weight.detach().clone()
        )
        self.bias = nn.Parameter(
            torch.zeros(num_features) if bias is None else bias.detach().clone()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = (1, -1) + (1,) * (x.dim() - 2)
        return x * self.weight.view(shape) + self.bias.view(shape)

    def extra_repr(self) -> str:
        return f"{self.num_features}"


def bn_scale_shift(
    bn: _BatchNorm, *, eps: bool, name: str = "", work: torch.dtype = torch.float64
) -> tuple[torch.Tensor, ...]:
    """``(scale, shift)`` of an eval-mode batch norm, computed in ``work`` (float64 by
    default; the statistics' own dtype reproduces a fold done in float32).

    ``eps=False`` divides by ``sqrt(running_var)`` (the SP4ASC fold).
    """
    label = name or type(bn).__name__
    if not bn.track_running_stats or bn.running_var is None or bn.running_mean is None:
        raise CompressionError(
            f"batch norm {label!r} keeps no running statistics (track_running_stats=False), so "
            "it normalises with batch statistics and cannot be folded; remove it from the chain"
        )
    var = bn.running_var.detach().to(work)
    mean = bn.running_mean.detach().to(work)
    if eps:
        denom = torch.sqrt(var + bn.eps)
    else:
        bad = (var <= 0).nonzero().flatten().tolist()
        if bad:
            raise CompressionError(
                f"batch norm {label!r}: running_var <= 0 in channels {bad[:5]}, so a fold "
                "without eps divides by zero; use fold_batchnorm with eps: true"
            )
        denom = torch.sqrt(var)
    gamma = bn.weight.detach().to(work) if bn.weight is not None else torch.ones_like(var)
    beta = bn.bias.detach().to(work) if bn.bias is not None else torch.zeros_like(var)
    scale = gamma / denom
    return scale, beta - scale * mean


def _work_dtype(bn: _BatchNorm, arithmetic: str) -> torch.dtype:
    return torch.float64 if arithmetic == "float64" else bn.running_var.dtype


def _fold_into(model: nn.Module, pair: FoldPair, eps: bool, arithmetic: str = "float64") -> None:
    bn = get_module(model, pair.bn, what="batch norm")
    work = _work_dtype(bn, arithmetic)
    scale, shift = bn_scale_shift(bn, eps=eps, name=pair.bn, work=work)
    convs = [get_module(model, c, what="convolution") for c in pair.convs]
    for path, conv in zip(pair.convs, convs, strict=True):
        if not isinstance(conv, FOLDABLE_TYPES):
            raise CompressionError(
                f"fold pair {pair.convs} -> {pair.bn!r}: {path!r} is a {type(conv).__name__}; only "
                "Conv1d/Conv2d/Conv3d and Linear fold (ConvTranspose is not supported)"
            )
        if conv.weight.shape[0] != bn.num_features:
            raise CompressionError(
                f"fold pair {path!r} -> {pair.bn!r}: {conv.weight.shape[0]} output channels but "
                f"the batch norm has {bn.num_features}; check the declared pair"
            )
    with torch.no_grad():
        for conv in convs:
            dtype = conv.weight.dtype
            view = (-1,) + (1,) * (conv.weight.dim() - 1)
            conv.weight = nn.Parameter((conv.weight.to(work) * scale.view(view)).to(dtype))
            if conv.bias is not None:
                conv.bias = nn.Parameter((conv.bias.to(work) * scale).to(dtype))
        target = convs[pair.convs.index(pair.shift_target)]
        dtype = target.weight.dtype
        old = target.bias.to(work) if target.bias is not None else torch.zeros_like(shift)
        target.bias = nn.Parameter((old + shift).to(dtype))
    set_module(model, pair.bn, nn.Identity())


def _to_affine(model: nn.Module, path: str, eps: bool, arithmetic: str = "float64") -> None:
    bn = get_module(model, path, what="batch norm")
    scale, shift = bn_scale_shift(bn, eps=eps, name=path, work=_work_dtype(bn, arithmetic))
    dtype = bn.weight.dtype if bn.weight is not None else bn.running_var.dtype
    set_module(model, path, Affine(bn.num_features, scale.to(dtype), shift.to(dtype)))


def fold_batchnorm(
    model: nn.Module,
    *,
    eps: bool = True,
    discovery: Discovery = "auto",
    pairs: list[Any] | tuple[Any, ...] = (),
    standalone: Literal["affine", "keep"] = "affine",
    input_shape: tuple[int, ...] | None = None,
    arithmetic: Literal["float64", "native"] = "float64",
) -> tuple[nn.Module, list[str]]:
    """Fold every batch norm of ``model`` in place; returns the model and notes.

    ``arithmetic="native"`` computes in the batch norm's own dtype (float32) instead of float64,
    to reproduce a reference fold bit for bit.

    Batch norms in a fold pair fold into their convolutions; any other batch norm becomes an
    :class:`Affine` (``standalone="affine"``) or stays (``"keep"``).
    """
    FoldBatchNorm.check_input(model)
    found, notes = find_pairs(model, method=discovery, extra=pairs, input_shape=input_shape)
    folded = affine = 0
    done: set[str] = set()
    for pair in found:
        if pair.bn in done:
            continue
        module = get_module(model, pair.bn, what="batch norm")
        if not isinstance(module, _BatchNorm):
            if isinstance(module, (nn.Identity, Affine)) and pair.source != "parameters":
                continue  # already folded (declared pairs stay declared after folding)
            raise CompressionError(
                f"fold pair -> {pair.bn!r}: that module is a {type(module).__name__}, not a "
                "batch norm; check the pair names"
            )
        if pair.convs:
            _fold_into(model, pair, eps, arithmetic)
            folded += 1
        else:
            _to_affine(model, pair.bn, eps, arithmetic)
            affine += 1
        done.add(pair.bn)
    kept = []
    for name, module in list(model.named_modules()):
        if isinstance(module, _BatchNorm) and name not in done:
            if standalone == "affine":
                _to_affine(model, name, eps, arithmetic)
                affine += 1
            else:
                kept.append(name)
    notes.append(
        f"folded {folded} batch norm(s) into convolutions and turned {affine} into Affine layers "
        f"({'with' if eps else 'WITHOUT'} eps)"
    )
    if kept:
        notes.append(f"batch norms left unfolded (standalone='keep'): {', '.join(kept)}")
    return model, notes


class FoldParams(CompressorParams):
    """Parameters of ``fold_batchnorm``."""

    eps: bool = Field(
        True,
        description="Add the batch norm's eps to the variance (exact). False reproduces the "
        "SP4ASC authors' fold, sqrt(running_var) only.",
    )
    arithmetic: Literal["float64", "native"] = Field(
        "float64",
        description="Compute the fold in float64 (default) or in the tensors' own dtype, as a "
        "reference fold in float32 does ('native', for checkpoint parity).",
    )
    discovery: Discovery = Field(
        "auto",
        description="How conv->BN pairs are found besides declared ones: 'auto' (fx trace, "
        "else nn.Sequential neighbours), 'fx', 'sequential' or 'declared' only.",
    )
    pairs: list[Any] = Field(
        default_factory=list,
        description="Extra pairs: [conv, bn], [[conv_a, conv_b], bn] (BN of a sum), [null, bn] "
        "(standalone -> Affine) or {convs, bn, bias_on}.",
    )
    standalone: Literal["affine", "keep"] = Field(
        "affine", description="Batch norms that follow no convolution become Affine or stay."
    )


class FoldBatchNorm(CompressorBase):
    """Fold batch norms into the preceding convolutions (and standalone ones into Affine)."""

    name = "fold_batchnorm"
    description = (
        "Fold batch norms into the preceding conv/linear (a BN of a sum of convs folds into "
        "each); standalone BNs become per-channel Affine layers; eps: false reproduces the "
        "SP4ASC fold"
    )
    Params = FoldParams
    config: FoldParams
    accepts = ("float32", "float16")

    def _apply(self, model: nn.Module, input_shape: tuple[int, ...] | None) -> tuple:
        for p in self.config.pairs:  # validate early, with a clear message
            FoldPair.coerce(p)
        return fold_batchnorm(
            clone_model(model),
            eps=self.config.eps,
            discovery=self.config.discovery,
            pairs=self.config.pairs,
            standalone=self.config.standalone,
            input_shape=input_shape,
            arithmetic=self.config.arithmetic,
        )

    def compress(self, model: nn.Module, context: Any) -> nn.Module:
        folded, notes = self._apply(model, getattr(context, "input_shape", None))
        for n in notes:
            note(context, n)
        return folded

    def restructure(self, model: nn.Module, input_shape: tuple[int, ...]) -> nn.Module:
        return self._apply(model, tuple(input_shape))[0]
