"""Registry entries that plugins return from the ``register_*`` hooks.

Each entry is a name, a factory and a one-line description. The registry fills in which
plugin registered it. The factory is called with a system's parameters when a system is
built; it is never called just to list plugins.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ascbench.errors import AscbenchError


@dataclass(frozen=True)
class RegistryEntry:
    """Base of all registry entries: a named factory (what a plugin registers, not the built
    object: ``ModelEntry.build(...)`` returns the ``torch.nn.Module``)."""

    name: str
    factory: Callable[..., Any]
    description: str = ""
    #: Filled in by the registry: the name of the plugin that registered this entry.
    plugin: str = field(default="", compare=False)

    kind: ClassVar[str] = "component"

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"a {self.kind} needs a non-empty name, got {self.name!r}")
        if not callable(self.factory):
            raise ValueError(f"{self.kind} {self.name!r}: factory {self.factory!r} is not callable")

    def build(self, **params: Any) -> Any:
        """``factory(**params)``; a parameter the factory does not take, or a required one
        missing, is a one-line error naming this entry and the parameters it takes."""
        problem = parameter_problem(self.factory, params)
        if problem:
            by = f" (plugin '{self.plugin}')" if self.plugin else ""
            raise AscbenchError(f"{self.kind} '{self.name}'{by}: {problem}")
        return self.factory(**params)

    @classmethod
    def of(cls, factory: Callable[..., Any], description: str | None = None, **fields: Any):
        """An entry named after its definition: ``factory.name`` where the factory declares
        one (a compressor class), else its ``__name__`` (a model function); the description
        defaults to ``factory.description`` or the first line of its docstring."""
        name = getattr(factory, "name", None)
        if not isinstance(name, str):
            name = getattr(factory, "__name__", "")
        if description is None:
            description = getattr(factory, "description", None)
        if not isinstance(description, str):
            description = ((factory.__doc__ or "").strip().splitlines() or [""])[0]
        return cls(name, factory, description, **fields)


# Each kind only names itself; the fields and ``build``/``of`` are RegistryEntry's.
class FrontendEntry(RegistryEntry):
    """A feature extractor factory (waveform -> features)."""

    kind = "frontend"


class ModelEntry(RegistryEntry):
    """A model architecture factory (features -> logits)."""

    kind = "model"


class CompressorEntry(RegistryEntry):
    """A model compressor factory (model -> smaller model)."""

    kind = "compressor"


class EvaluatorEntry(RegistryEntry):
    """A metric factory (predictions -> numbers)."""

    kind = "evaluator"


class AugmentationEntry(RegistryEntry):
    """A training batch augmentation factory (:mod:`ascbench.training.parts`)."""

    kind = "augmentation"


class LrScheduleEntry(RegistryEntry):
    """A learning-rate schedule factory (:mod:`ascbench.training.parts`)."""

    kind = "lr_schedule"


#: The names of ascbench 0.1 (``ascbench.Model`` is a registry entry, not a model), kept so that
#: plugins written against them still load; new code uses the ``*Entry`` names.
Component = RegistryEntry
Frontend = FrontendEntry
Model = ModelEntry
Compressor = CompressorEntry
Evaluator = EvaluatorEntry


def parameter_problem(factory: Callable[..., Any], params: dict[str, Any]) -> str:
    """Why ``factory(**params)`` cannot be called with these names, and the parameters it
    takes; "" when it can, or when the factory has no signature to read."""
    import inspect

    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):  # a builtin or an object without a signature
        return ""
    try:
        signature.bind(**params)
    except TypeError as exc:
        named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        takes = [n for n, p in signature.parameters.items() if p.kind in named]
        return f"{exc}; it takes {', '.join(takes) or 'no parameters'}"
    return ""
