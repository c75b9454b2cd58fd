"""The job stages of a system with one model per recording device (``device_specific``).

After the general model is trained, :func:`specialise` fine-tunes a copy of it on each listed
device's training clips (the DCASE 2025 baseline's ``train_device_specific.py``) and returns a
:class:`~ascbench.devices.DeviceModels`. :func:`compress_each` runs the compressor chain on
every member separately, so that each device's model is counted on its own, as the 2025 limits
apply to each.
"""

from __future__ import annotations

import copy
from typing import Any

from ascbench.devices import GENERAL, DeviceModels
from ascbench.jobs.stages import (
    Compressed,
    Features,
    Fitted,
    JobContext,
    TestEvaluation,
    TrainingSplit,
    compression_context,
)


def clip_devices(data: Any) -> list[str]:
    """The device id of every clip of ``data`` (a feature set or a subset of one)."""
    if hasattr(data, "devices"):
        return [str(d) for d in data.devices]
    if hasattr(data, "rows") and hasattr(data, "data"):
        parent = clip_devices(data.data)
        return [parent[r] for r in data.rows]
    return [str(data[i][2]) for i in range(len(data))]


def fine_tuning_epochs(ctx: JobContext, fitted: Fitted) -> int:
    """The device models' epochs: the recipe's with --full, else at most the general model's
    (each device has about 1/6 of the clips, so all devices together cost about as much)."""
    spec = ctx.system.device_specific
    assert spec is not None
    return spec.epochs if ctx.settings.budget.full else max(1, min(spec.epochs, fitted.epochs))


def specialise(ctx: JobContext, fitted: Fitted, split: TrainingSplit, minutes) -> Fitted:
    """The general model and, per listed device with training clips, a fine-tuned copy."""
    from ascbench.clips import ClipSubset
    from ascbench.training import train

    spec = ctx.system.device_specific
    if spec is None or ctx.settings.weights is not None:
        return fitted
    devices = clip_devices(split.train)
    epochs = fine_tuning_epochs(ctx, fitted)
    recipe = ctx.system.recipe.model_copy(
        update={"lr": spec.lr, "distillation": None, "frozen_layers": [], "frozen_epochs": None,
                "checkpoint": "last"}
    )  # fmt: skip
    by_device = {}
    for device in spec.devices:
        rows = [i for i, d in enumerate(devices) if d == device]
        if not rows:
            ctx.notes.append(f"device '{device}' has no training clips: it uses the general model")
            continue
        ctx.say(f"fine-tuning the model of device {device} ({len(rows)} clips, {epochs} epochs)")
        model = copy.deepcopy(fitted.model)
        train(
            model, ClipSubset(split.train, rows), recipe, epochs=epochs, max_minutes=minutes,
            seed=ctx.job.seed, device=ctx.settings.device, progress=ctx.settings.progress,
            description=f"{ctx.system.name} device {device}", parts=ctx.training_parts,
        )  # fmt: skip
        by_device[device] = model.cpu().eval()
    ctx.notes.append(
        f"one model per device: {', '.join(by_device) or 'none'} fine-tuned for {epochs} epochs "
        f"at lr {spec.lr:g} from the general model; other devices use the general model"
    )
    return Fitted(model=DeviceModels(fitted.model, by_device).eval(), epochs=fitted.epochs)


def compress_each(
    ctx: JobContext,
    built,
    fitted: Fitted,
    features: Features,
    evaluation: TestEvaluation,
    minutes: float | None,
) -> Compressed:
    """The compressor chain on every member of a :class:`DeviceModels`; only the general
    model's stages are scored on the test split (the routed whole is scored afterwards)."""
    from ascbench.build import build_compressor_steps
    from ascbench.compressors import run_chain

    members, records = {}, {}
    for name, member in fitted.model.members().items():
        evaluate = evaluation.plain_scores if name == GENERAL else None
        context = compression_context(
            ctx, built, Fitted(member, fitted.epochs), features, evaluate, minutes
        )
        steps = build_compressor_steps(ctx.registry, ctx.system)  # fresh compressors per model
        if steps:
            ctx.say(f"compressing the {name} model")
        members[name], records[name] = run_chain(
            member, steps, context, ctx.settings.ruleset, built.input_shape
        )
    general = members.pop(GENERAL)
    return Compressed(
        model=DeviceModels(general, members).eval(),
        records=records.pop(GENERAL),
        device_records=records,
    )
