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
