"""What every compressor shares: its error type, its parameter model, module-path helpers.

A compressor is an object with

- ``name``: its registry name (e.g. ``"fold_batchnorm"``);
- ``params``: its parameters as a JSON-able dict (what a system's ``compressors[i].params``
  held, with defaults filled in), so that a chain can be recorded and replayed;
- ``compress(model, context) -> torch.nn.Module``: the compressed model. The model passed in
  is never modified; the result is a new module;
- ``restructure(model, input_shape) -> torch.nn.Module``: the same *structural* change on a
  freshly built model, without data (no calibration set, no fine-tuning). Loading a saved
  compressed model rebuilds the architecture, replays ``restructure`` of every stage and then
  loads the saved state dict into it (:mod:`ascbench.compressors.storage`).

:class:`CompressorBase` implements ``name``, ``params`` and parameter validation; subclasses
define a pydantic ``Params`` model and the two methods.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar

import torch
from pydantic import BaseModel, ConfigDict, ValidationError
from torch.nn.utils import prune

from ascbench.errors import AscbenchError, first_problem


class CompressionError(AscbenchError):
    """A compressor cannot be applied as configured, or a compressed model cannot be loaded."""


class CompressorParams(BaseModel):
    """Base of every compressor's parameter model: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


#: How a model's weights are stored on its way through a chain (:func:`storage_of`), and the
#: compressors that store them so, as a message names them.
STORAGE_MADE_BY = {"float32": "the float model", "float16": "fp16", "int8": "int8 quantization"}


def storage_of(model: torch.nn.Module) -> str:
    """``"int8"`` (torch.ao quantized modules), ``"float16"`` (a module that declares
    ``storage = "float16"``, as :class:`~ascbench.compressors.fp16.Float16Storage` does) or
    ``"float32"``."""
    if is_quantized(model):
        return "int8"
    if any(getattr(m, "storage", None) == "float16" for m in model.modules()):
        return "float16"
    return "float32"


def refusal(name: str, accepts: Sequence[str], form: str, previous: str, advice: str) -> str:
    """Why compressor ``name`` cannot take a model stored as ``form`` (made by ``previous``)."""
    article = "an" if accepts[0][0] in "aeiou" else "a"
    return (
        f"{name} cannot follow {previous}: {name} needs {article} {' or '.join(accepts)} model, "
        f"not {form}; {advice}"
    )


class CompressorBase:
    """A compressor with validated parameters. Subclasses set ``name`` and ``Params``, and
    ``accepts``/``makes`` where they change or need a storage form (:func:`storage_of`): a
    chain in the wrong order is refused when the system is built, before anything trains."""

    name: ClassVar[str] = "compressor"
    Params: ClassVar[type[CompressorParams]] = CompressorParams
    #: The storage forms of the model this compressor takes.
    accepts: ClassVar[tuple[str, ...]] = ("float32", "float16", "int8")
    #: The storage form of the model it returns; None: the form it was given.
    makes: ClassVar[str | None] = None

    def __init__(self, **params: Any) -> None:
        try:
            self.config = self.Params(**params)
        except ValidationError as exc:
            where, message, _ = first_problem(exc)
            raise CompressionError(
                f"compressor {self.name!r}: invalid parameter '{where or '(parameters)'}': "
                f"{message}; "
                f"valid parameters are {sorted(self.Params.model_fields)}"
            ) from exc

    @classmethod
    def check_input(cls, model: torch.nn.Module) -> None:
        """A one-line :class:`CompressionError` unless ``model`` is stored in a form this
        compressor takes."""
        form = storage_of(model)
        if form not in cls.accepts:
            advice = "change the order of the system's compressors or drop one of them"
            made_by = STORAGE_MADE_BY[form]
            raise CompressionError(refusal(cls.name, cls.accepts, form, made_by, advice))

    @property
    def params(self) -> dict[str, Any]:
        """The parameters, defaults included, as JSON-able data."""
        return self.config.model_dump(mode="json")

    def compress(self, model: torch.nn.Module, context: Any) -> torch.nn.Module:  # pragma: no cover
        raise NotImplementedError

    def restructure(
        self, model: torch.nn.Module, input_shape: tuple[int, ...]
    ) -> torch.nn.Module:  # pragma: no cover
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({args})"


# -- module paths ---------------------------------------------------------------------------


def join(prefix: str, name: str) -> str:
    """Dotted path ``prefix.name`` (``name`` alone when ``prefix`` is the root)."""
    return f"{prefix}.{name}" if prefix else name


def get_module(model: torch.nn.Module, path: str, *, what: str = "module") -> torch.nn.Module:
    """The submodule at dotted ``path``; a :class:`CompressionError` naming it if missing."""
    if not path:
        return model
    try:
        return model.get_submodule(path)
    except AttributeError as exc:
        raise CompressionError(
            f"{what} {path!r} is not a submodule of {type(model).__name__}; check the names "
            "given in the compressor parameters or the model's declaration"
        ) from exc


def set_module(model: torch.nn.Module, path: str, module: torch.nn.Module) -> None:
    """Replace the submodule at dotted ``path`` by ``module``."""
    parent_path, _, name = path.rpartition(".")
    parent = get_module(model, parent_path)
    setattr(parent, name, module)


def clone_model(model: torch.nn.Module) -> torch.nn.Module:
    """A deep copy of ``model`` with any torch.nn.utils.prune masks baked in (the original
    keeps its masks)."""
    # A pruned attribute (weight = weight_orig * mask) is not a graph leaf and deepcopy refuses
    # it; the copy gets a detached clone (its pre-hook recomputes it anyway).
    memo: dict[int, Any] = {}
    for module in model.modules():
        for hook in module._forward_pre_hooks.values():
            if isinstance(hook, prune.BasePruningMethod):
                value = getattr(module, hook._tensor_name)
                memo[id(value)] = value.detach().clone()
    model = copy.deepcopy(model, memo)
    bake_pruning(model)
    return model


def bake_pruning(model: torch.nn.Module) -> list[str]:
    """Make torch.nn.utils.prune masks permanent in place; returns the baked tensor names."""
    baked = []
    for name, module in model.named_modules():
        for hook in list(module._forward_pre_hooks.values()):
            if isinstance(hook, prune.BasePruningMethod):
                prune.remove(module, hook._tensor_name)
                baked.append(join(name, hook._tensor_name))
    return baked


def is_quantized(model: torch.nn.Module) -> bool:
    """Whether ``model`` holds torch.ao quantized modules (int8 weights in packed params)."""
    return any(
        c.__module__.startswith(("torch.ao.nn.quantized", "torch.ao.nn.intrinsic.quantized"))
        for m in model.modules()
        for c in type(m).__mro__
    )


def example_input(input_shape: tuple[int, ...] | list[int], batch: int = 2) -> torch.Tensor:
    """A deterministic random input ``(batch, *input_shape)`` for structural replays."""
    gen = torch.Generator().manual_seed(0)
    return torch.randn((batch, *[int(s) for s in input_shape]), generator=gen)


@contextmanager
def quiet_torch_ao() -> Iterator[None]:
    """Silence torch.ao.quantization's deprecation and observer warnings (not errors), and
    stop its torch.fx tracer from recording a Python stack trace for every graph node (a
    debugging aid nothing here reads, which cost 1.3 s of the 15 s that profiling every
    bundled system took)."""
    import torch.fx.config

    emit = torch.fx.config.do_not_emit_stack_traces
    torch.fx.config.do_not_emit_stack_traces = True
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\..*")
            warnings.filterwarnings("ignore", category=FutureWarning, module=r"torch\..*")
            yield
    finally:
        torch.fx.config.do_not_emit_stack_traces = emit


def note(context: Any, message: str) -> None:
    """Record a note on the current stage (shown in its StageRecord), when the context can."""
    add = getattr(context, "note", None)
    if callable(add):
        add(message)


def progress(context: Any, message: str) -> None:
    """Report progress through the context's ``progress`` callable, if any."""
    report = getattr(context, "progress", None)
    if callable(report):
        report(message)
