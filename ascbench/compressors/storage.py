"""Saving and loading a compressed model without pickling code.

A compressed model is saved as one file written with ``torch.save`` holding only plain data:

- ``format``: ``"ascbench-compressed/1"``;
- ``chain``: a JSON :class:`ChainSpec`: the stages applied (registry names and parameters),
  the input shape ``(C, F, T)``, the system name, versions, the quantized engine;
- ``state_dict``: the compressed model's state dict (float16 and qint8 tensors, packed-param
  tuples and dtypes included).

Loading never unpickles objects: the file is read with ``torch.load(weights_only=True)``.
The architecture is rebuilt from the system's model factory, the chain's *structural*
transforms are replayed on it (each compressor's ``restructure``: fold, fp16 wrap, int8
prepare/convert with one dummy calibration batch; pruning changes no structure since its
masks are baked), and the saved state dict is loaded into the result with ``strict=True``.
Saving and loading therefore gives the same predictions.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ascbench.atomic import atomic_write_bytes
from ascbench.compressors.base import CompressionError, is_quantized, quiet_torch_ao
from ascbench.compressors.chain import StageRecord, resolve_factory

FORMAT = "ascbench-compressed/1"


class StageSpec(BaseModel):
    """One applied compressor: its registry name and parameters."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    params: dict[str, Any] = Field(default_factory=dict)


class ChainSpec(BaseModel):
    """How a saved model was compressed: enough to rebuild its structure."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: str = FORMAT
    stages: list[StageSpec] = Field(default_factory=list)
    input_shape: list[int] = Field(description="(C, F, T) of one clip's features.")
    system: str = ""
    ascbench_version: str = ""
    torch_version: str = ""
    quantized_engine: str | None = None


def chain_spec(
    stages: Sequence[Any], input_shape: Sequence[int], *, system: str = ""
) -> ChainSpec:
    """A ChainSpec from ``[(name, compressor)]`` steps, StageRecords or ``(name, params)``."""
    from ascbench import __version__

    specs = []
    for stage in stages:
        if isinstance(stage, StageRecord):
            if stage.index == 0:
                continue  # the uncompressed measurement
            specs.append(StageSpec(name=stage.name, params=stage.params))
        elif isinstance(stage, StageSpec):
            specs.append(stage)
        else:
            name, second = stage
            params = second if isinstance(second, Mapping) else getattr(second, "params", {})
            specs.append(StageSpec(name=name, params=dict(params)))
    return ChainSpec(
        stages=specs,
        input_shape=[int(s) for s in input_shape],
        system=system,
        ascbench_version=__version__,
        torch_version=torch.__version__,
    )


def save_compressed(path: str | Path, model: torch.nn.Module, spec: ChainSpec) -> Path:
    """Write ``model``'s state dict and ``spec`` to ``path`` atomically."""
    if is_quantized(model):
        spec = spec.model_copy(update={"quantized_engine": torch.backends.quantized.engine})
    buffer = io.BytesIO()
    torch.save(
        {"format": FORMAT, "chain": spec.model_dump_json(), "state_dict": model.state_dict()},
        buffer,
    )
    return atomic_write_bytes(path, buffer.getvalue())


def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise CompressionError(f"{path}: no such compressed-model file")
    try:
        with quiet_torch_ao():
            data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise CompressionError(
            f"{path}: cannot be read as plain tensors ({first}); only files written by "
            "ascbench's save_compressed load"
        ) from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT or "state_dict" not in data:
        raise CompressionError(f"{path}: not an ascbench compressed model ({FORMAT} expected)")
    return data


def read_chain_spec(path: str | Path) -> ChainSpec:
    """The ChainSpec stored in a compressed-model file."""
    path = Path(path)
    data = _read(path)
    try:
        return ChainSpec.model_validate_json(data["chain"])
    except (ValidationError, KeyError, TypeError) as exc:
        raise CompressionError(f"{path}: its chain description is malformed; re-save it") from exc


def rebuild(
    model: torch.nn.Module,
    spec: ChainSpec,
    resolve: Callable[[str], Callable[..., Any]] | Mapping[str, Callable[..., Any]] | None = None,
) -> torch.nn.Module:
    """Replay the structural transforms of ``spec`` on a freshly built ``model``."""
    from ascbench.compressors import BUILTIN

    shape = tuple(spec.input_shape)
    engine = spec.quantized_engine
    if engine and engine in torch.backends.quantized.supported_engines:
        torch.backends.quantized.engine = engine
    model = model.eval()
    for stage in spec.stages:
        compressor = resolve_factory(stage.name, resolve or BUILTIN)(**stage.params)
        replay = getattr(compressor, "restructure", None)
        if not callable(replay):
            raise CompressionError(
                f"compressor {stage.name!r} has no restructure(model, input_shape) method, so a "
                "model compressed with it cannot be loaded"
            )
        model = replay(model, shape)
    return model.eval()


def load_compressed(
    path: str | Path,
    model_factory: Callable[[], torch.nn.Module],
    *,
    resolve: Callable[[str], Callable[..., Any]] | Mapping[str, Callable[..., Any]] | None = None,
) -> tuple[torch.nn.Module, ChainSpec]:
    """Rebuild and load a model saved by :func:`save_compressed`.

    ``model_factory()`` builds the system's uncompressed architecture; ``resolve`` maps
    compressor names to factories (default: the built-in ones).
    """
    path = Path(path)
    data = _read(path)
    spec = read_chain_spec(path)
    model = rebuild(model_factory(), spec, resolve)
    try:
        with quiet_torch_ao():
            model.load_state_dict(data["state_dict"], strict=True)
    except RuntimeError as exc:
        first = (str(exc).strip().splitlines() or [""])[0][:120]
        detail = " ".join(str(exc).split())[len(first):][:200]
        raise CompressionError(
            f"{path}: the architecture rebuilt from the system does not match the saved model "
            f"({first}{detail}); was it saved from another system or ascbench version?"
        ) from exc
    return model.eval(), spec
