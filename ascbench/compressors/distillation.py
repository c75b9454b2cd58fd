"""Knowledge distillation pieces: the teacher's outputs, their alignment, and the loss.

A student system names a teacher system in its recipe (:class:`DistillationSpec`, proposed as
``TrainingRecipe.distillation``). ``ascbench run`` computes the teacher's logits on the
student's training files once and keeps them in a :class:`TeacherOutputs` store:

- rows are keyed by **file name**, never by row index, so a reshuffled or re-filtered
  training list still gets the right teacher row, and a file the teacher never saw is an
  error naming it (:meth:`TeacherOutputs.align`);
- the store carries a fingerprint of the dataset files and the frontend
  (:func:`dataset_fingerprint`); loading it for different data or features is an error;
- it is saved with ``torch.save`` of plain tensors, strings and lists and loaded with
  ``torch.load(weights_only=True)``; no pickle of arbitrary objects is ever loaded.

The trainer receives a :class:`TeacherTargets` (``.logits`` aligned to its training rows,
``.temperature``, ``.weight``); :func:`distillation_loss` is the loss on one batch from the
teacher's logits (a checked front end to the trainer's
:func:`ascbench.training.losses.distillation_loss`).
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field

from ascbench.atomic import atomic_write_bytes
from ascbench.errors import AscbenchError
from ascbench.training import losses
from ascbench.training.losses import one_hot

FORMAT = "ascbench-teacher-outputs/1"


class DistillationError(AscbenchError):
    """Teacher outputs are missing, mismatched or malformed."""


class DistillationSpec(BaseModel):
    """How a student system learns from a teacher system (proposed ``recipe.distillation``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    teacher: str = Field(
        pattern=r"^[A-Za-z0-9_.\-]+$", description="Name of the registered teacher system."
    )
    temperature: float = Field(2.0, gt=0, description="Softmax temperature T of both outputs.")
    weight: float = Field(
        0.5, ge=0, le=1,
        description="Loss = (1 - weight) * CE(student, labels) + weight * T^2 * KL(teacher || "
        "student).",
    )
    outputs: str | None = Field(
        None,
        description="Path of saved teacher outputs to use instead of running the teacher.",
    )


@dataclass(frozen=True)
class TeacherTargets:
    """What the trainer consumes: teacher logits aligned to its training rows, T and weight.

    It has the fields and the ``probabilities()`` method of ``ascbench.training.Teacher``, so
    it can be passed as ``train(..., teacher=...)`` as it is.
    """

    logits: torch.Tensor
    temperature: float
    weight: float

    def probabilities(self) -> torch.Tensor:
        """The teacher's softmax at temperature T, one row per training row."""
        return F.softmax(self.logits.to(torch.float32) / self.temperature, dim=1)


def dataset_fingerprint(
    files: Mapping[str, Any] | Iterable[str],
    frontend: Any = None,
    extra: Any = None,
) -> str:
    """A SHA-256 over the dataset's files and the frontend configuration.

    ``files`` is a list of file names, or a mapping of file name to something that changes
    with the file's content (a size, a checksum). ``frontend`` is its configuration (a dict or
    a pydantic model, e.g. a system's ``frontend`` ComponentRef); ``extra`` anything else the
    outputs depend on (e.g. the teacher checkpoint's hash). Order of files does not matter.
    """
    if isinstance(files, Mapping):
        items = sorted([str(k), _jsonable(v)] for k, v in files.items())
    else:
        items = sorted(str(f) for f in files)
    payload = {"files": items, "frontend": _jsonable(frontend), "extra": _jsonable(extra)}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


class TeacherOutputs:
    """A teacher's logits, one row per file name, with the fingerprint of data and frontend."""

    def __init__(
        self,
        logits: torch.Tensor,
        filenames: Sequence[str],
        *,
        fingerprint: str,
        teacher: str = "",
        meta: Mapping[str, Any] | None = None,
        source: str = "teacher outputs",
    ) -> None:
        if not isinstance(logits, torch.Tensor) or logits.dim() != 2:
            raise DistillationError(f"{source}: logits must be a 2-D tensor (files x classes)")
        if not all(isinstance(f, str) for f in filenames):
            raise DistillationError(f"{source}: file names must be strings")
        if len(filenames) != logits.shape[0]:
            raise DistillationError(
                f"{source}: {len(filenames)} file names for {logits.shape[0]} rows of logits"
            )
        index: dict[str, int] = {}
        dupes = []
        for i, name in enumerate(filenames):
            if name in index:
                dupes.append(name)
            index[name] = i
        if dupes:
            raise DistillationError(
                f"{source}: file names appear more than once ({', '.join(dupes[:3])}); teacher "
                "outputs are keyed by file name"
            )
        self.logits = logits.detach().to(torch.float32).cpu().contiguous()
        self.filenames = list(filenames)
        self.fingerprint = str(fingerprint)
        self.teacher = teacher
        self.meta = dict(meta or {})
        self.source = source
        self._index = index

    def __len__(self) -> int:
        return len(self.filenames)

    @property
    def num_classes(self) -> int:
        return int(self.logits.shape[1])

    def align(self, filenames: Sequence[str]) -> torch.Tensor:
        """Teacher logits for ``filenames``, in that order (rows follow names, not indices)."""
        missing = [f for f in filenames if f not in self._index]
        if missing:
            raise DistillationError(
                f"{self.source}: {len(missing)} of {len(filenames)} files have no teacher output "
                f"(e.g. {', '.join(missing[:3])}); recompute the teacher outputs for this split"
            )
        rows = torch.tensor([self._index[f] for f in filenames], dtype=torch.long)
        return self.logits.index_select(0, rows)

    def check(self, fingerprint: str) -> None:
        """Error unless these outputs were computed for data/frontend ``fingerprint``."""
        if fingerprint != self.fingerprint:
            raise DistillationError(
                f"{self.source}: computed for other data or another frontend (fingerprint "
                f"{self.fingerprint[:12]}, expected {fingerprint[:12]}); recompute the teacher "
                "outputs"
            )

    def targets(self, spec: DistillationSpec, filenames: Sequence[str]) -> TeacherTargets:
        """The trainer's teacher object for training rows ``filenames``."""
        return TeacherTargets(self.align(filenames), spec.temperature, spec.weight)

    # -- making and storing -----------------------------------------------------------------
    @classmethod
    def from_model(
        cls,
        model: torch.nn.Module,
        batches: Iterable[tuple[torch.Tensor, Sequence[str]]],
        *,
        fingerprint: str,
        teacher: str = "",
        meta: Mapping[str, Any] | None = None,
    ) -> TeacherOutputs:
        """Run ``model`` (eval mode, no grad) on ``(features, filenames)`` batches."""
        was_training = model.training
        model.eval()
        logits, names = [], []
        try:
            with torch.no_grad():
                for features, batch_names in batches:
                    out = model(features)
                    if out.shape[0] != len(batch_names):
                        raise DistillationError(
                            f"teacher {teacher!r}: a batch of {len(batch_names)} files gave "
                            f"{out.shape[0]} rows of logits"
                        )
                    logits.append(out.detach().float().cpu())
                    names.extend(str(n) for n in batch_names)
        finally:
            model.train(was_training)
        if not logits:
            raise DistillationError(f"teacher {teacher!r}: no batches to compute outputs on")
        return cls(torch.cat(logits), names, fingerprint=fingerprint, teacher=teacher, meta=meta)

    def save(self, path: str | Path) -> Path:
        """Write the store atomically (torch.save of tensors, strings and lists only)."""
        buffer = io.BytesIO()
        torch.save(
            {
                "format": FORMAT,
                "teacher": self.teacher,
                "fingerprint": self.fingerprint,
                "filenames": self.filenames,
                "logits": self.logits,
                "meta": json.dumps(self.meta, sort_keys=True, default=str),
            },
            buffer,
        )
        return atomic_write_bytes(path, buffer.getvalue())

    @classmethod
    def load(cls, path: str | Path, *, fingerprint: str | None = None) -> TeacherOutputs:
        """Read a store with ``torch.load(weights_only=True)``; check ``fingerprint`` if given."""
        path = Path(path)
        if not path.is_file():
            raise DistillationError(f"{path}: no such teacher-outputs file; run the teacher first")
        try:
            data = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
            raise DistillationError(
                f"{path}: not a loadable teacher-outputs file ({first}); recompute it"
            ) from exc
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise DistillationError(
                f"{path}: not an ascbench teacher-outputs file (format {FORMAT} expected)"
            )
        missing = [k for k in ("logits", "filenames", "fingerprint") if k not in data]
        if missing:
            raise DistillationError(f"{path}: teacher-outputs file lacks {missing}; recompute it")
        try:
            meta = json.loads(data.get("meta") or "{}")
        except json.JSONDecodeError as exc:
            raise DistillationError(f"{path}: its meta field is not JSON; recompute it") from exc
        outputs = cls(
            data["logits"],
            data["filenames"],
            fingerprint=data["fingerprint"],
            teacher=data.get("teacher", ""),
            meta=meta,
            source=str(path),
        )
        if fingerprint is not None:
            outputs.check(fingerprint)
        return outputs


    # -- a logits file (CSV) ------------------------------------------------------------------
    @classmethod
    def from_csv(cls, path: str | Path) -> TeacherOutputs:
        """Teacher logits from a CSV: a ``filename`` column and one column per scene
        (:data:`ascbench.scenes.SCENES`, in any order); rows keyed by file name. Refused with
        ``file:line`` for a missing column, a value that is not a finite number or a repeated
        file name."""
        import csv
        import math

        from ascbench.scenes import SCENES

        path = Path(path)
        if not path.is_file():
            raise DistillationError(f"{path}: no such logits file; give distillation.logits_file")
        try:
            with open(path, newline="", encoding="utf-8-sig") as f:
                rows = list(csv.reader(f))
        except (OSError, UnicodeDecodeError) as exc:
            raise DistillationError(f"{path}: cannot read the logits file ({exc})") from exc
        header = [h.strip() for h in (rows[0] if rows else [])]
        missing = [c for c in ("filename", *SCENES) if c not in header]
        if missing:
            raise DistillationError(
                f"{path}:1: the header lacks {', '.join(missing)}; write 'filename' and one "
                "column of logits per scene"
            )
        columns = [header.index(c) for c in SCENES]
        names, values = [], []
        for line, row in enumerate(rows[1:], start=2):
            if not any(cell.strip() for cell in row):
                continue
            try:
                logits = [float(row[c]) for c in columns]
            except (ValueError, IndexError):
                raise DistillationError(
                    f"{path}:{line}: a logit is missing or not a number; fix the row"
                ) from None
            if not all(math.isfinite(v) for v in logits):
                raise DistillationError(f"{path}:{line}: a logit is NaN or infinite; fix the row")
            names.append(row[header.index("filename")].strip())
            values.append(logits)
        if not values:
            raise DistillationError(f"{path}: the logits file has no rows")
        return cls(torch.tensor(values), names, fingerprint="", source=str(path))

    def to_csv(self, path: str | Path) -> Path:
        """Write the logits as a CSV that :meth:`from_csv` reads (atomically)."""
        from ascbench.scenes import SCENES

        if self.num_classes != len(SCENES):
            raise DistillationError(f"{self.source}: {self.num_classes} classes, not the scenes")
        lines = [",".join(["filename", *SCENES])]
        for name, row in zip(self.filenames, self.logits.tolist(), strict=True):
            lines.append(",".join([name, *(repr(float(v)) for v in row)]))
        return atomic_write_bytes(path, ("\n".join(lines) + "\n").encode("utf-8"))


def distillation_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    targets: torch.Tensor,
    temperature: float,
    weight: float,
) -> torch.Tensor:
    """Hinton et al.'s loss from a teacher's *logits*, checked:
    ``(1 - weight) * CE + weight * T^2 * KL(p_teacher || p_student)``.

    ``targets`` are class indices or class probabilities (e.g. after mixup). The loss itself is
    the trainer's :func:`ascbench.training.losses.distillation_loss` (KL averaged over the
    batch on softmaxes at temperature ``T``; the T^2 factor keeps its gradient scale
    independent of T); this front end checks the shapes and settings and turns the teacher's
    logits into probabilities, without gradient to the teacher.
    """
    if teacher_logits.shape != student_logits.shape:
        raise DistillationError(
            f"teacher logits {tuple(teacher_logits.shape)} do not match student logits "
            f"{tuple(student_logits.shape)}; the teacher must predict the same classes"
        )
    if temperature <= 0 or not 0 <= weight <= 1:
        raise DistillationError(
            f"distillation temperature must be > 0 and weight in [0, 1] (got {temperature}, "
            f"{weight})"
        )
    t = float(temperature)
    if not targets.is_floating_point():
        targets = one_hot(targets, student_logits.shape[1]).to(student_logits.dtype)
    teacher = F.softmax(teacher_logits.detach().to(student_logits.dtype) / t, dim=1)
    return losses.distillation_loss(student_logits, targets, teacher, t, weight)
