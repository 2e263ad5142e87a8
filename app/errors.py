"""One exception hierarchy. Every message is written for the user: what went wrong and what to do."""
from __future__ import annotations


class CiteqaError(Exception):
    """Base class: the CLI prints str(error) on one line and exits with `exit_code`."""

    exit_code = 1

    def __init__(self, message: str):
        # One line, always: the CLI and the chat show it as it is.
        super().__init__(" ".join(str(message).split()))


class ConfigError(CiteqaError):
    """A setting is missing or invalid."""

    exit_code = 2


class InputError(CiteqaError):
    """A question, file or flag the user gave cannot be used."""

    exit_code = 2


class DocumentError(InputError):
    """A document cannot be read (binary, empty, missing, unsupported)."""


class IndexError_(CiteqaError):
    """The index is missing, incompatible or damaged."""


class IndexMismatchError(IndexError_):
    """The index was built with other embedder or chunking settings."""


class StoreError(CiteqaError):
    """The vector store (Chroma) cannot be reached or used."""


class EmbedderError(CiteqaError):
    """The embedding model cannot be loaded or reached."""


class BackendError(CiteqaError):
    """The language-model backend failed (not running, model missing, broke mid-answer)."""


class BackendUnavailable(BackendError):
    """The backend cannot be reached at all."""


class ModelNotFound(BackendError):
    """The backend runs but does not have the model."""


class EvalFileError(InputError):
    """A question-answer file is invalid; `problems` lists every (line, field, message)."""

    def __init__(self, path: str, problems: list[tuple[int, str, str]]):
        self.path = path
        self.problems = problems
        first = "; ".join(f"line {ln}: {field}: {msg}" for ln, field, msg in problems[:5])
        more = f" (+{len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(f"{path}: {len(problems)} problem(s), nothing was run: {first}{more}")
