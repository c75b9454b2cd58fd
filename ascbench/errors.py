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
    ours = [f for f in frames if "site-packages" not in f.filename or "ascbench" in f.filename]
    frame = (ours or frames)[-1]
    return f"{Path(frame.filename).name}:{frame.lineno}"


def one_line(exc: BaseException, *, also: str = "") -> str:
    """``Type: first line of the message (FILE:LINE)``, the line from :func:`raised_at`;
    ``also`` is added inside the parentheses (``(FILE:LINE; also)``)."""
    text = str(exc).strip().splitlines()
    where = "; ".join(part for part in (raised_at(exc), also) if part)
    return f"{type(exc).__name__}: {text[0] if text else ''}" + (f" ({where})" if where else "")
