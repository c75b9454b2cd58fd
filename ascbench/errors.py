"""Errors a user can act on.

Every error ascbench raises on purpose is an :class:`AscbenchError` whose message is one line
that names the offending file or name and says what to do. The command line prints it
without a traceback and exits with status 2.
"""


class AscbenchError(Exception):
    """An error with a one-line, user-facing message."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


class PluginError(AscbenchError):
    """A plugin could not be loaded, or its registrations conflict with another plugin's."""


class RuleSetError(AscbenchError):
    """A rule set is unknown or its file is malformed."""


class UnknownNameError(AscbenchError):
    """A frontend, model, compressor, evaluator or system name is not registered."""


class DatasetError(AscbenchError):
    """A dataset folder or its metadata is not usable as given."""


class AudioError(AscbenchError):
    """An audio file cannot be read or holds unusable samples."""


def raised_at(exc: BaseException) -> str:
    """``FILE:LINE`` of the innermost frame of ``exc``'s traceback in ascbench's or a plugin's
    code (not in torch or another installed library): for an error inside a model's forward
    pass, the plugin's own line. Empty when the exception carries no traceback."""
    import traceback
    from pathlib import Path

    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    ours = [f for f in frames if _is_ours(f.filename)]
    frame = (ours or frames)[-1]
    return f"{Path(frame.filename).name}:{frame.lineno}"


def _is_ours(filename: str) -> bool:
    """Whether a frame's file is ascbench's, a plugin's or the user's: outside an installed
    library's folder, or in an installed package named ``ascbench`` or ``ascbench_*`` (a
    virtual environment inside a folder called ascbench does not make pydantic ours)."""
    parts = filename.replace("\\", "/").split("/")
    for marker in ("site-packages", "dist-packages"):
        if marker in parts:
            below = parts[len(parts) - parts[::-1].index(marker) :]
            return bool(below) and (below[0] == "ascbench" or below[0].startswith("ascbench_"))
    return True


def first_problem(exc: Exception) -> tuple[str, str, int]:
    """The first problem of a pydantic ``ValidationError``: where (the field path joined by
    dots, "" at the top level), the message (without pydantic's "Value error, ") and how many
    problems follow it. Duck-typed (``exc.errors()``), so this module imports no pydantic."""
    problems = exc.errors()  # type: ignore[attr-defined]
    first = problems[0]
    where = ".".join(str(part) for part in first.get("loc", ()))
    return where, str(first["msg"]).removeprefix("Value error, "), len(problems) - 1


def describe_problem(exc: Exception) -> str:
    """A pydantic ``ValidationError`` in one line: ``at 'a.b': message (and N more problems)``."""
    where, message, more = first_problem(exc)
    also = f" (and {more} more problems)" if more else ""
    return f"at '{where or '(top level)'}': {message}{also}"


def _is_validation_error(exc: BaseException) -> bool:
    return type(exc).__name__ == "ValidationError" and callable(getattr(exc, "errors", None))


def one_line(exc: BaseException, *, also: str = "") -> str:
    """``Type: first line of the message (FILE:LINE)``, the line from :func:`raised_at`;
    ``also`` is added inside the parentheses (``(FILE:LINE; also)``). A pydantic
    ``ValidationError`` gives its model and first problem (``System at 'report': Field
    required (and 1 more problems)``) instead of its count of errors."""
    if _is_validation_error(exc):
        model = getattr(exc, "title", "")
        text = [f"{model} {describe_problem(exc)}".strip()]
    else:
        text = str(exc).strip().splitlines()
    where = "; ".join(part for part in (raised_at(exc), also) if part)
    return f"{type(exc).__name__}: {text[0] if text else ''}" + (f" ({where})" if where else "")
