"""Building a system: the one place that turns a :class:`~ascbench.systems.System` (names and
parameters) into the objects that run it.

:func:`build_system` returns a :class:`BuiltSystem`: the frontend, the untrained model for one
input shape, the compressor chain's steps and the evaluators, each resolved by name in the
plugin registry. ``ascbench run``, ``ascbench profile``, the pytest plugin and the learning-curve
and speed benchmarks all build through it, so a system is the same object everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ascbench.errors import AscbenchError

if TYPE_CHECKING:
    import torch

    from ascbench.plugins import Registry
    from ascbench.rules import RuleSet
    from ascbench.systems import System


@dataclass
class BuiltSystem:
    """A system's components, built: what ``system`` names, resolved and constructed."""

    system: System
    #: the frontend (audio -> features); ``frontend.output_shape(seconds)`` gives the shape
    frontend: Any
    #: ``(channels, mel bands, frames)`` of one clip, the model's input
    input_shape: tuple[int, ...]
    #: the untrained model
    model: torch.nn.Module
    #: the compressor chain as ``[(name, compressor)]``, in order
    compressor_steps: list[tuple[str, Any]] = field(default_factory=list)
    #: extra evaluators by name (``system.evaluation.evaluators``)
    evaluators: dict[str, Any] = field(default_factory=dict)
    #: the recipe's registered augmentations and lr schedule, built
    training_parts: Any = None


def build_frontend(registry: Registry, system: System):
    """The frontend ``system`` names, built with its parameters."""
    return registry.get("frontend", system.frontend.name).build(**system.frontend.params)


def build_model(
    registry: Registry, system: System, input_shape: Sequence[int], num_classes: int
) -> torch.nn.Module:
    """The untrained model ``system`` names, for inputs of ``input_shape`` (one clip)."""
    import torch

    entry = registry.get("model", system.model.name)
    model = entry.build(
        num_classes=num_classes, input_shape=tuple(input_shape), **system.model.params
    )
    if not isinstance(model, torch.nn.Module):
        raise AscbenchError(
            f"model '{entry.name}' (plugin '{entry.plugin}') returned {type(model).__name__}, "
            "not a torch.nn.Module"
        )
    return model


def check_logits(built: BuiltSystem, num_classes: int) -> None:
    """Run the built model once on a batch of two silent clips (eval mode, no gradient, the
    caller's random state untouched) and refuse, in one line naming the model, an output that
    is not logits of shape ``(batch, num_classes)``: such a model would otherwise profile as
    if nothing were wrong, or fail training with an error that blames the data."""
    import torch

    from ascbench.devices import forward_with_devices

    model, shape = built.model, tuple(built.input_shape)
    was_training = model.training
    try:
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            model.eval()
            out = forward_with_devices(model, torch.zeros((2, *shape)), ())
    finally:
        model.train(was_training)
    if isinstance(out, torch.Tensor) and tuple(out.shape) == (2, num_classes):
        return
    got = f"shape {tuple(out.shape)}" if isinstance(out, torch.Tensor) else type(out).__name__
    raise AscbenchError(
        f"model '{built.system.model.name}' of system '{built.system.name}' returns {got} for "
        f"a batch of 2 clips of shape {shape}; a model must return logits of shape (batch, "
        f"{num_classes}) for the rule set's {num_classes} classes"
    )


def feature_shape(registry: Registry, system: System, ruleset: RuleSet) -> tuple[int, int, int]:
    """The shape of one clip's features under ``ruleset`` (its clip length)."""
    return build_frontend(registry, system).output_shape(ruleset.clip_seconds)


def build_compressor_steps(registry: Registry, system: System) -> list[tuple[str, Any]]:
    """``system``'s compressor chain as ``[(name, compressor)]``, resolved in ``registry``."""
    from ascbench.compressors import build_steps

    resolve = {name: entry.factory for name, entry in registry.entries["compressor"].items()}
    return build_steps(system.compressors, resolve)


def build_evaluators(registry: Registry, system: System) -> dict[str, Any]:
    """The extra evaluators ``system.evaluation`` names, built with their parameters."""
    return {
        ref.name: registry.get("evaluator", ref.name).build(**ref.params)
        for ref in system.evaluation.evaluators
    }


def build_training_parts(registry: Registry, system: System, frontend: Any = None):
    """The registered augmentations and lr schedule ``system.recipe`` names, built; waveform
    augmentations get the frontend's sample rate (``frontend``, built when not given)."""
    from ascbench.training.parts import TrainingParts

    recipe = system.recipe
    features, waveform = [], []
    for ref in recipe.augmentations:
        entry = registry.get("augmentation", ref.name)
        if getattr(entry.factory, "stage", "features") == "waveform":
            frontend = frontend if frontend is not None else build_frontend(registry, system)
            sample_rate = int(getattr(frontend, "sample_rate", 0) or 0)
            waveform.append(entry.build(**{"sample_rate": sample_rate, **ref.params}))
        else:
            features.append(entry.build(**ref.params))
    schedule = recipe.lr_schedule
    return TrainingParts(
        augmentations=tuple(features),
        lr_schedule=None
        if schedule is None
        else registry.get("lr_schedule", schedule.name).build(**schedule.params),
        waveform_augmentations=tuple(waveform),
        frontend=frontend if waveform else None,
    )


def with_weights(system: System, weights: Any) -> System:
    """``system`` with its model's ``weights`` parameter set to ``weights`` (``--weights``)."""
    params = {**system.model.params, "weights": str(weights)}
    return system.model_copy(update={"model": system.model.model_copy(update={"params": params})})


def build_system(
    system: System,
    registry: Registry,
    ruleset: RuleSet,
    *,
    frontend: Any = None,
    input_shape: Sequence[int] | None = None,
) -> BuiltSystem:
    """Build every component of ``system`` for ``ruleset``.

    ``frontend`` reuses one built already (``ascbench run`` builds it first, to compute the
    features); ``input_shape`` defaults to the frontend's output for one clip of the rule set's
    length. The model is initialised from torch's global random state: seed it before.
    """
    frontend = frontend if frontend is not None else build_frontend(registry, system)
    shape = tuple(input_shape or frontend.output_shape(ruleset.clip_seconds))
    return BuiltSystem(
        system=system,
        frontend=frontend,
        input_shape=shape,
        model=build_model(registry, system, shape, ruleset.num_classes),
        compressor_steps=build_compressor_steps(registry, system),
        evaluators=build_evaluators(registry, system),
        training_parts=build_training_parts(registry, system, frontend),
    )
