"""Unstructured L1 (magnitude) pruning with fine-tuning: ``prune_l1``.

The weights of Conv1d/2d/3d, ConvTranspose and Linear layers (and their biases if
``include_bias``) are pruned with ``torch.nn.utils.prune`` by smallest absolute value,
either over all of them at once (``scope: global``, what Kim et al.'s per-layer rates point
to) or layer by layer (``scope: layer``). How much is set by exactly one of

- ``amount``: the fraction of the prunable values set to zero (torch's rounding, per layer or
  over all of them);
- ``target_nonzero``: the model's total non-zero count afterwards, counted as the rule set
  counts parameters (every counted tensor, biases and counted buffers included), exactly;
- ``target_bytes``: the largest number of non-zero values that fits the byte budget under the
  rule set's byte convention (or ``bytes_per_value`` per counted value, e.g. 1 when int8
  follows).

Values that are already zero are pruned first and count toward the target. The masks stay
attached while ``context.finetune(model)`` fine-tunes (masked weights stay zero), then they
are baked in (``prune.remove``), so the saved model holds the zeros a user measures. If the
fine-tuning callable loses the masks, they are re-applied and a note says so.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
from pydantic import Field, model_validator
from torch import nn
from torch.nn.utils import prune

from ascbench.complexity.tensors import counted_tensors
from ascbench.compressors.base import (
    CompressionError,
    CompressorBase,
    CompressorParams,
    bake_pruning,
    clone_model,
    note,
    progress,
)
from ascbench.rules import DTYPE_BYTES, ParameterConvention

PRUNABLE_TYPES: tuple[type[nn.Module], ...] = (
    nn.Conv1d,
    nn.Conv2d,
    nn.Conv3d,
    nn.ConvTranspose1d,
    nn.ConvTranspose2d,
    nn.ConvTranspose3d,
    nn.Linear,
)


class PruneParams(CompressorParams):
    """Parameters of ``prune_l1``; give exactly one of amount, target_nonzero, target_bytes."""

    amount: float | None = Field(None, ge=0, lt=1, description="Fraction of values pruned.")
    target_nonzero: int | None = Field(
        None, ge=0, description="Total non-zero parameters of the model afterwards."
    )
    target_bytes: int | None = Field(
        None, gt=0, description="Byte budget of the non-zero values under the rule set."
    )
    bytes_per_value: int | None = Field(
        None, ge=1, description="With target_bytes: bytes per counted value (e.g. 1 for int8)."
    )
    scope: Literal["global", "layer"] = Field(
        "global",
        description="Rank values by magnitude over all pruned tensors at once, or per layer.",
    )
    include_bias: bool = Field(False, description="Prune biases too (Kim et al.: they are not).")
    modules: list[str] = Field(
        default_factory=list,
        description="Module path prefixes to prune (default: every conv and linear layer).",
    )
    finetune: bool = Field(True, description="Fine-tune with the context's callable, if any.")

    @model_validator(mode="after")
    def _one_target(self) -> PruneParams:
        given = [
            n for n in ("amount", "target_nonzero", "target_bytes") if getattr(self, n) is not None
        ]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of amount, target_nonzero, target_bytes (got "
                f"{given or 'none'})"
            )
        if self.bytes_per_value is not None and self.target_bytes is None:
            raise ValueError("bytes_per_value only applies with target_bytes")
        return self


def prunable_tensors(
    model: nn.Module, *, include_bias: bool = False, prefixes: list[str] | tuple[str, ...] = ()
) -> list[tuple[str, nn.Module, str]]:
    """``(module_path, module, tensor_name)`` of every tensor L1 pruning may zero."""
    out = []
    for path, module in model.named_modules():
        if not isinstance(module, PRUNABLE_TYPES):
            continue
        if prefixes and not any(path == p or path.startswith(p + ".") for p in prefixes):
            continue
        for name in ("weight", "bias") if include_bias else ("weight",):
            t = getattr(module, name, None)
            if isinstance(t, torch.Tensor) and t.is_floating_point():
                out.append((path, module, name))
    return out


def _nonzero(t: torch.Tensor) -> int:
    return int(torch.count_nonzero(t.detach()).item())


def _split(total: int, weights: list[int]) -> list[int]:
    """``total`` split in proportion to ``weights`` (largest remainder), each <= its weight."""
    whole = sum(weights)
    if whole == 0 or total == 0:
        return [0] * len(weights)
    raw = [total * w / whole for w in weights]
    parts = [math.floor(r) for r in raw]
    order = sorted(range(len(raw)), key=lambda i: raw[i] - parts[i], reverse=True)
    for i in order[: total - sum(parts)]:
        parts[i] += 1
    return parts


class PruneL1(CompressorBase):
    """Unstructured L1 pruning to an amount, a non-zero count or a byte budget; fine-tuned."""

    name = "prune_l1"
    description = (
        "Unstructured L1 pruning (global or per layer) by amount, to a non-zero count or a "
        "byte budget; fine-tuned; masks baked in"
    )
    Params = PruneParams
    config: PruneParams
    accepts = ("float32", "float16")

    def compress(self, model: nn.Module, context: Any) -> nn.Module:
        cfg = self.config
        self.check_input(model)
        model = clone_model(model)
        targets = prunable_tensors(model, include_bias=cfg.include_bias, prefixes=cfg.modules)
        if not targets:
            raise CompressionError(
                f"prune_l1: no conv or linear weights to prune (modules={cfg.modules or 'all'})"
            )
        ruleset = getattr(context, "ruleset", None)
        convention = ruleset.parameters if ruleset is not None else ParameterConvention(
            count_zeros=False
        )
        before = self._total_nonzero(model, convention)
        counts = [_nonzero(getattr(m, n)) for _, m, n in targets]
        sizes = [getattr(m, n).numel() for _, m, n in targets]
        remove = self._to_remove(model, targets, counts, sizes, convention, ruleset)
        progress(context, f"prune_l1: zeroing {sum(remove):,} of {sum(counts):,} values")
        self._apply_masks(targets, counts, sizes, remove)
        masks = {
            (path, name): getattr(module, f"{name}_mask").detach().clone()
            for path, module, name in targets
        }
        for _, module, name in targets:
            # weight = weight_orig * mask is recomputed before every forward; a detached copy
            # now lets the fine-tuning code deep-copy the model (e.g. for an EMA of weights).
            setattr(module, name, getattr(module, name).detach())
        finetune = getattr(context, "finetune", None)
        if cfg.finetune and callable(finetune):
            progress(context, "prune_l1: fine-tuning with masks attached")
            model = finetune(model)
            note(context, "fine-tuned with the pruning masks attached")
        elif cfg.finetune:
            note(context, "fine-tuning skipped: the context supplies no finetune callable")
        bake_pruning(model)
        revived = self._reapply(model, masks)
        if revived:
            note(context, f"fine-tuning lost the masks: {revived:,} pruned values zeroed again")
        after = self._total_nonzero(model, convention)
        expected = before - sum(remove)
        note(
            context,
            f"{cfg.scope} L1 pruning over {len(targets)} tensor(s): {sum(remove):,} values zeroed, "
            f"non-zero parameters {before:,} -> {after:,}",
        )
        if after != expected:
            note(context, f"non-zero count {after:,} differs from the {expected:,} aimed at "
                          "(fine-tuning moved weights to or from exactly zero)")
        return model

    def restructure(self, model: nn.Module, input_shape: tuple[int, ...]) -> nn.Module:
        return clone_model(model)  # masks are baked in: the structure does not change

    # -- internals ------------------------------------------------------------------------
    @staticmethod
    def _total_nonzero(model: nn.Module, convention: ParameterConvention) -> int:
        return sum(t.nonzero for t in counted_tensors(model, convention))

    def _to_remove(
        self,
        model: nn.Module,
        targets: list[tuple[str, nn.Module, str]],
        counts: list[int],
        sizes: list[int],
        convention: ParameterConvention,
        ruleset: Any,
    ) -> list[int]:
        """How many currently non-zero values to zero in each target tensor."""
        cfg = self.config
        nonzero = sum(counts)
        if cfg.amount is not None:
            if cfg.scope == "layer":
                want = [round(cfg.amount * s) for s in sizes]  # torch's own rounding
                triples = zip(counts, sizes, want, strict=True)
                return [max(0, min(c, w - (s - c))) for c, s, w in triples]
            zeros_wanted = round(cfg.amount * sum(sizes))
            total = max(0, min(nonzero, zeros_wanted - (sum(sizes) - nonzero)))
        elif cfg.target_nonzero is not None:
            current = self._total_nonzero(model, convention)
            total = current - cfg.target_nonzero
            if total > nonzero:
                raise CompressionError(
                    f"prune_l1: target_nonzero {cfg.target_nonzero:,} is unreachable: the model "
                    f"has {current:,} non-zero values of which only {nonzero:,} are prunable"
                )
            total = max(0, total)
        else:
            total = self._bytes_to_remove(model, targets, counts, convention, ruleset)
        if cfg.scope == "layer":
            return _split(total, counts)
        return [total]  # one global amount

    def _bytes_to_remove(
        self,
        model: nn.Module,
        targets: list[tuple[str, nn.Module, str]],
        counts: list[int],
        convention: ParameterConvention,
        ruleset: Any,
    ) -> int:
        cfg = self.config
        assert cfg.target_bytes is not None
        if ruleset is None and cfg.bytes_per_value is None:
            raise CompressionError(
                "prune_l1: target_bytes needs the rule set in the compression context (or "
                "bytes_per_value) to know how bytes are counted"
            )
        if convention.count_zeros:
            raise CompressionError(
                f"prune_l1: rule set {getattr(ruleset, 'name', '?')!r} counts zero-valued "
                "parameters, so pruning cannot reduce bytes; use target_nonzero or amount"
            )

        def per_value(dtype: str) -> int:
            if cfg.bytes_per_value is not None:
                return cfg.bytes_per_value
            if convention.storage_dtype is not None:
                return DTYPE_BYTES[convention.storage_dtype]
            return DTYPE_BYTES[dtype]

        keys = {(path, name) for path, _, name in targets}
        fixed = 0
        element: set[int] = set()
        for t in counted_tensors(model, convention):
            if (t.module, t.name) in keys:
                element.add(per_value(t.dtype))
            else:
                fixed += t.nonzero * per_value(t.dtype)
        if len(element) != 1:
            raise CompressionError(
                "prune_l1: the prunable tensors have different element sizes; set "
                "bytes_per_value to count them alike"
            )
        (size,) = element
        room = cfg.target_bytes - fixed
        if room < 0:
            raise CompressionError(
                f"prune_l1: target_bytes {cfg.target_bytes:,} is below the {fixed:,} B of values "
                "that are not pruned (biases, norms, counted buffers); raise the budget or "
                "set include_bias: true"
            )
        keep = room // size
        return max(0, sum(counts) - keep)

    def _apply_masks(
        self,
        targets: list[tuple[str, nn.Module, str]],
        counts: list[int],
        sizes: list[int],
        remove: list[int],
    ) -> None:
        # torch's L1 picks the k smallest |values|: existing zeros first, then the k - zeros
        # smallest non-zero ones, so k = zeros + remove gives exact counts.
        if self.config.scope == "global":
            k = (sum(sizes) - sum(counts)) + remove[0]
            prune.global_unstructured(
                [(m, n) for _, m, n in targets], pruning_method=prune.L1Unstructured, amount=k
            )
            return
        for (_, module, name), c, s, r in zip(targets, counts, sizes, remove, strict=True):
            prune.l1_unstructured(module, name, amount=(s - c) + r)

    @staticmethod
    def _reapply(model: nn.Module, masks: dict[tuple[str, str], torch.Tensor]) -> int:
        revived = 0
        modules = dict(model.named_modules())
        with torch.no_grad():
            for (path, name), mask in masks.items():
                t = getattr(modules[path], name)
                revived += int(torch.count_nonzero(t.detach() * (1 - mask)).item())
                t.mul_(mask.to(t.dtype))
        return revived

