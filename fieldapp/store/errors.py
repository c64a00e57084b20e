"""What the store raises: a record it cannot find or save, a file from a newer app."""
from __future__ import annotations

class StoreError(Exception):
    """The store cannot do what was asked (unknown record, file from a newer app)."""


class StoreLocked(StoreError):
    """The key given does not open this store file (or it is not a store at all)."""


class NotFound(StoreError):
    """No such record on this tablet."""


class InvalidRecord(StoreError):
    """A record the doctor is saving breaks the shared rules; `errors` is {field: [messages]}, as the server
    would answer, so the screen marks the boxes before anything is saved."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items()))
        self.errors = errors
