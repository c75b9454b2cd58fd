"""The whole plugin contract of ascbench.

A plugin is a Python module (or any object) with functions decorated by
``@ascbench.hookimpl`` whose names are the hook names below. ascbench finds plugins
in three ways, in this order:

1. the built-in components (:mod:`ascbench.builtin`), registered through these same hooks;
2. installed distributions that declare an entry point in the group ``ascbench``::

       [project.entry-points.ascbench]
       my_plugin = "my_package.plugin"

3. modules named with ``--plugin module.path`` on the command line, or in the
   environment variable ``ASCBENCH_PLUGINS`` (comma-separated), without packaging.

Every hook here takes no arguments and returns a list of objects (an empty list or ``None``
when the plugin has nothing of that kind). Names must be unique across all plugins: two
plugins registering the same name is an error that names both. A plugin that raises while
being imported or while a hook runs is reported by ``ascbench plugins`` with its error; the
other plugins keep working.

Hooks are called once per process, when the registry is first built (at the start of every
``ascbench`` command, or when :func:`ascbench.plugins.load_registry` is called).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from ascbench.components import (
        AugmentationEntry,
        CompressorEntry,
        EvaluatorEntry,
        FrontendEntry,
        LrScheduleEntry,
        ModelEntry,
    )
    from ascbench.rules import RuleSet
    from ascbench.systems import System

PROJECT_NAME = "ascbench"
ENTRY_POINT_GROUP = "ascbench"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def register_rulesets() -> list[RuleSet]:
    """Return the rule sets this plugin adds (:class:`ascbench.rules.RuleSet`).

    Called once when the registry is built. A rule set is data: its limits, its clip length
    and its counting convention. ``ascbench --rules NAME`` selects one by ``RuleSet.name``;
    a rule set can also be given as a TOML or YAML file path without any plugin.
    """


@hookspec
def register_frontends() -> list[FrontendEntry]:
    """Return the feature extractors this plugin adds, each an
    :class:`ascbench.components.FrontendEntry` (a name, a factory and a description).

    Called once when the registry is built. Each entry names a factory that takes keyword
    parameters (those in a system's ``frontend.params``) and returns a
    :class:`ascbench.frontends.FeatureExtractor`: a ``torch.nn.Module`` that maps waveforms
    ``(batch, samples)`` at its ``sample_rate`` to features ``(batch, channels, freq, time)``.
    Feature extraction is not counted in a model's complexity.
    """


@hookspec
def register_models() -> list[ModelEntry]:
    """Return the model architectures this plugin adds, each an
    :class:`ascbench.components.ModelEntry` (a name, a factory and a description).

    Called once when the registry is built. Each entry names a factory that takes keyword
    parameters (those in a system's ``model.params``, plus ``num_classes`` and
    ``input_shape``, the ``(channels, freq, time)`` of one clip's features) and returns a
    ``torch.nn.Module`` mapping features to class logits ``(batch, num_classes)``.
    ``ModelEntry.of(factory, description)`` names the entry after the factory function.
    """


@hookspec
def register_compressors() -> list[CompressorEntry]:
    """Return the model compressors this plugin adds, each an
    :class:`ascbench.components.CompressorEntry` (a name, a factory and a description).

    Called once when the registry is built. Each entry names a factory that takes keyword
    parameters (those in a system's ``compressors[i].params``) and returns an object with a
    method ``compress(model, context) -> torch.nn.Module``. Systems chain compressors in
    order; complexity is measured before and after every stage. A compressor that needs or
    changes how weights are stored declares it: ``accepts`` (a tuple of "float32", "float16",
    "int8") and ``makes`` (one of them), as the built-in ones do
    (:class:`ascbench.compressors.CompressorBase`); a chain whose order cannot work is then
    refused when the system is built, before anything is trained. Without them it takes any
    form and keeps it.
    """


@hookspec
def register_evaluators() -> list[EvaluatorEntry]:
    """Return the evaluation metrics this plugin adds, each an
    :class:`ascbench.components.EvaluatorEntry` (a name, a factory and a description).

    Called once when the registry is built. Each entry names a factory returning a metric
    object with ``update(probabilities, labels, devices)``, ``compute() -> dict`` and
    ``reset()``, in the manner of torchmetrics.
    """


@hookspec
def register_augmentations() -> list[AugmentationEntry]:
    """Return the training augmentations this plugin adds, each an
    :class:`ascbench.components.AugmentationEntry` (a name, a factory and a description).

    Called once when the registry is built. A recipe names them in
    ``TrainingRecipe.augmentations``; the factory takes the ref's parameters and returns an
    object with ``stage = "features"`` and ``__call__(x, targets, rng) -> (x, targets)`` on a
    training batch (contract: :mod:`ascbench.training.parts`). They run after the recipe's own
    augmentations, in the order listed, and never at test time.
    """


@hookspec
def register_lr_schedules() -> list[LrScheduleEntry]:
    """Return the learning-rate schedules this plugin adds, each an
    :class:`ascbench.components.LrScheduleEntry` (a name, a factory and a description).

    Called once when the registry is built. A recipe names one in
    ``TrainingRecipe.lr_schedule``; the factory takes the ref's parameters and returns
    ``f(epoch, epochs) -> factor`` of the recipe's lr, with ``epoch`` a float position in the
    report's ``epochs`` (so a shortened run follows it in proportion), evaluated before every
    optimizer step (contract: :mod:`ascbench.training.parts`).
    """


@hookspec
def register_systems() -> list[System]:
    """Return the complete systems this plugin adds (:class:`ascbench.systems.System`).

    Called once when the registry is built. A system is one technical report's recipe:
    frontend, model, training recipe, compressor chain, evaluation settings and the numbers
    its report states. It refers to frontends, models, compressors and evaluators by name;
    those may come from any installed plugin. ``ascbench profile`` and ``ascbench run``
    iterate over the registered systems.
    """
