"""Which tensors of a model count as parameters, and how big they are."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch.nn.utils import prune

from ascbench.rules import DTYPE_BYTES, ParameterConvention


@dataclass(frozen=True)
class CountedTensor:
    """One tensor that counts toward a model's size under a convention."""

    module: str  # dotted module path, "" for the model itself
    name: str  # attribute name on that module
    kind: str  # "parameter", "buffer" or "packed" (weights inside a quantized module)
    numel: int
    nonzero: int
    dtype: str

    @property
    def element_bytes(self) -> int:
        return DTYPE_BYTES[self.dtype]


def dtype_name(dtype: torch.dtype) -> str:
    name = str(dtype).removeprefix("torch.")
    if name not in DTYPE_BYTES:
        raise ValueError(f"no byte size known for dtype {name}")
    return name


def _nonzero(t: torch.Tensor) -> int:
    if t.is_quantized:
        return int(torch.count_nonzero(t.dequantize()).item())
    return int(torch.count_nonzero(t.detach()).item())


def is_quantized_module(module: torch.nn.Module) -> bool:
    """Modules of torch.ao.nn.quantized keep weights in packed params, not in parameters().

    Fused int8 modules (torch.ao.nn.intrinsic.quantized: ConvReLU2d, LinearReLU, ...) live
    elsewhere but subclass the torch.ao.nn.quantized classes.
    """
    quantized = any(c.__module__.startswith("torch.ao.nn.quantized") for c in type(module).__mro__)
    return quantized and callable(getattr(module, "weight", None))


def bake_pruning_masks(model: torch.nn.Module) -> tuple[torch.nn.Module, list[str]]:
    """A copy of ``model`` with torch.nn.utils.prune masks made permanent (zeros baked in).

    Returns the copy (or the model itself when nothing was pruned) and the pruned tensor names.
    """
    pruned = [
        (name, module, hook._tensor_name)
        for name, module in model.named_modules()
        for hook in module._forward_pre_hooks.values()
        if isinstance(hook, prune.BasePruningMethod)
    ]
    if not pruned:
        return model, []
    # The pruned attribute (weight = weight_orig * mask) is not a graph leaf and cannot be
    # deep-copied; give the copy a detached clone of it (the pre-hook recomputes it anyway).
    memo = {}
    for _, module, tensor_name in pruned:
        value = getattr(module, tensor_name)
        memo[id(value)] = value.detach().clone()
    model = copy.deepcopy(model, memo)
    modules = dict(model.named_modules())
    baked = []
    for name, _, tensor_name in pruned:
        prune.remove(modules[name], tensor_name)
        baked.append(f"{name}.{tensor_name}" if name else tensor_name)
    return model, baked


def counted_tensors(model: torch.nn.Module, convention: ParameterConvention) -> list[CountedTensor]:
    """Every tensor that counts as parameters under ``convention``, each shared tensor once."""
    seen: set[int] = set()
    # Unpacked quantized weights are temporaries: keep every counted tensor alive so that id()
    # stays unique (a freed tensor's id is reused by the next one).
    alive: list[torch.Tensor] = []
    out: list[CountedTensor] = []

    def add(module: str, name: str, kind: str, t: torch.Tensor | None) -> None:
        if t is None or id(t) in seen:
            return
        seen.add(id(t))
        alive.append(t)
        out.append(CountedTensor(module, name, kind, t.numel(), _nonzero(t), dtype_name(t.dtype)))

    for mname, module in model.named_modules():
        for pname, p in module.named_parameters(recurse=False):
            add(mname, pname, "parameter", p)
        for bname, b in module.named_buffers(recurse=False):
            if bname in convention.counted_buffers:
                add(mname, bname, "buffer", b)
        if is_quantized_module(module):
            add(mname, "weight", "packed", module.weight())
            bias = module.bias() if callable(getattr(module, "bias", None)) else None
            add(mname, "bias", "packed", bias)
    return out


def size_of(tensors: list[CountedTensor], convention: ParameterConvention) -> tuple[int, int, int]:
    """``(parameters, nonzero_parameters, bytes)`` of ``tensors`` under ``convention``."""
    params = sum(t.numel for t in tensors)
    nonzero = sum(t.nonzero for t in tensors)
    if convention.storage_dtype is not None:
        per = DTYPE_BYTES[convention.storage_dtype]
        nbytes = (params if convention.count_zeros else nonzero) * per
    else:
        nbytes = sum(
            (t.numel if convention.count_zeros else t.nonzero) * t.element_bytes for t in tensors
        )
    return params, nonzero, nbytes
