"""float16 storage, float32 compute: ``fp16``.

:class:`Float16Storage` wraps a model whose floating-point parameters (and, by default,
buffers) are stored as float16, so every stored value counts 2 bytes, and runs its forward
pass in float32 on the fly (``torch.func.functional_call`` with float32 copies), so it runs
on CPU where many float16 kernels are missing. The outputs equal those of the float32 model
with every stored value rounded to float16 once, which is what the DCASE 2021 fp16
submissions (SP4ASC's "cast to half and back", Deepsound's fp16 model) evaluate.

The wrapper keeps the wrapped model as ``.model``; its state-dict keys are those of the
wrapped model prefixed with ``model.``.
"""

from __future__ import annotations

from itertools import chain
from typing import Any

import torch
from pydantic import Field
from torch import nn

from ascbench.compressors.base import (
    CompressorBase,
    CompressorParams,
    clone_model,
    note,
)


def _cast_to_half(model: nn.Module, buffers: bool) -> int:
    """Cast floating parameters (and buffers) of ``model`` to float16 in place; count values."""
    count = 0
    for module in model.modules():
        for name, p in list(module._parameters.items()):
            if p is not None and p.is_floating_point() and p.dtype != torch.float16:
                module._parameters[name] = nn.Parameter(
                    p.detach().to(torch.float16), requires_grad=p.requires_grad
                )
                count += p.numel()
        if buffers:
            for name, b in list(module._buffers.items()):
                if b is not None and b.is_floating_point() and b.dtype != torch.float16:
                    module._buffers[name] = b.detach().to(torch.float16)
                    count += b.numel()
    return count


class Float16Storage(nn.Module):
    """A model stored in float16 and computed in float32 (see the module docstring)."""

    #: what :func:`ascbench.compressors.base.storage_of` reports for a model holding this
    storage = "float16"

    def __init__(self, model: nn.Module, *, buffers: bool = True) -> None:
        super().__init__()
        _cast_to_half(model, buffers)
        self.model = model

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        as_float = {
            name: t.float()
            for name, t in chain(self.model.named_parameters(), self.model.named_buffers())
            if t.dtype == torch.float16
        }
        if not as_float:  # e.g. measure() called .float() on a copy
            return self.model(*args, **kwargs)
        return torch.func.functional_call(self.model, as_float, args, kwargs, strict=False)


class Fp16Params(CompressorParams):
    """Parameters of ``fp16``."""

    buffers: bool = Field(
        True,
        description="Also store floating buffers (batch-norm running statistics) in float16.",
    )


class Fp16(CompressorBase):
    """Store parameters (and buffers) in float16; compute in float32."""

    name = "fp16"
    description = (
        "Store parameters and buffers in float16 (2 B each); compute in float32 on the fly"
    )
    Params = Fp16Params
    config: Fp16Params
    accepts = ("float32", "float16")
    makes = "float16"

    def _apply(self, model: nn.Module) -> Float16Storage:
        self.check_input(model)
        if isinstance(model, Float16Storage):
            return clone_model(model)
        return Float16Storage(clone_model(model), buffers=self.config.buffers)

    def compress(self, model: nn.Module, context: Any) -> nn.Module:
        wrapped = self._apply(model)
        values = sum(
            t.numel()
            for t in chain(wrapped.parameters(), wrapped.buffers())
            if t.dtype == torch.float16
        )
        note(context, f"{values:,} stored values in float16; forward pass computed in float32")
        return wrapped

    def restructure(self, model: nn.Module, input_shape: tuple[int, ...]) -> nn.Module:
        return self._apply(model)
