"""Errors raised for bad input.

Every error here carries a one-line message that says what was expected and what
was received; the CLI prints it without a traceback (unless ``--debug``).
"""

from __future__ import annotations


class VideoVAEError(Exception):
    """Base class of every error meant for the user of the framework.

    Its message is one line whatever it quotes: a line break of any kind (``\\n``, ``\\r``, ``\\x85``,
    ``\\u2028``, ...) or a NUL byte inside it, e.g. in an option name or a label read from a file, is
    written as its escape (``\\n``)."""

    def __init__(self, *args):
        if args and isinstance(args[0], str):
            args = (escape_line_breaks(args[0]), *args[1:])
        super().__init__(*args)


def escape_line_breaks(text: str) -> str:
    """``text`` with every character that ``str.splitlines`` breaks at, and NUL, written as its escape."""
    return "".join(char.encode("unicode_escape").decode("ascii") if char == "\x00" or len(f"a{char}a".splitlines()) > 1
                   else char for char in text)


class ConfigError(VideoVAEError, ValueError):
    """A configuration value has the wrong type or is out of range."""


class UnknownNameError(VideoVAEError, LookupError):
    """A component, preset, dataset or attribute name is not registered."""


class InputShapeError(VideoVAEError, ValueError):
    """A tensor given to a part does not have the shape the part was built for."""


class AttributeValueError(VideoVAEError, ValueError):
    """An attribute name, value or schedule is not valid for the model's attributes."""


class CheckpointError(VideoVAEError):
    """A checkpoint is missing, unreadable, or was written for something else."""


class DataError(VideoVAEError):
    """A data set root, file or label table is missing or malformed."""


class TrainingError(VideoVAEError):
    """Training cannot go on (the loss or the weights stopped being finite); what was saved is kept."""


class CapabilityError(VideoVAEError, ValueError):
    """A model was asked for something it does not declare (e.g. continuing a first frame)."""


class RunInUseError(VideoVAEError):
    """A run folder is owned by another running process (its lock file names the process)."""


class StorageError(VideoVAEError):
    """A file could not be written (disk full, read-only folder, no permission); what was saved before is kept."""


class RunInterrupted(KeyboardInterrupt):
    """A run was stopped by SIGINT (Ctrl-C, exit status 130) or SIGTERM (143); its message says what was kept."""

    def __init__(self, message: str = "interrupted", exit_code: int = 130):
        super().__init__(message)
        self.exit_code = exit_code


def unknown_name_message(kind: str, name: str, choices, hint: str = "") -> str:
    """One line: the kind, the name, the closest match and what is registered."""
    import difflib

    choices = sorted(choices)
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.5)
    parts = [f"unknown {kind} {name!r}"]
    if close:
        parts.append(f"did you mean {close[0]!r}?")
    parts.append("known: " + (", ".join(choices) if choices else "(none)"))
    if hint:
        parts.append(hint)
    return "; ".join(parts)


def one_line(text) -> str:
    """``text`` with all whitespace runs (newlines included) collapsed to one space: how a
    third-party error's message is quoted in one of ours."""
    return " ".join(str(text).split())
