"""Domain errors: raised by services that know no HTTP; the API layer maps them to status codes."""
from __future__ import annotations

from gpcore.names import written_in_chinese


class DomainError(Exception):
    """Base of every error a service raises on purpose; `errors` names fields or reasons."""

    status = 400
    # A machine-readable reason that a client acts on, sent as the body's `code` instead of the HTTP status
    # (the tablet protocol's "device_lost", "device_other_team"); None: `code` is the status, as everywhere.
    code: str | None = None

    def __init__(self, message: str, errors: dict | None = None, *, zh: str | None = None,
                 zh_errors: dict | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors
        # What a Chinese reader gets (Accept-Language: zh): the sentence, and the field messages if they differ.
        self.zh = zh
        self.zh_errors = zh_errors


class NotFound(DomainError):
    status = 404


class Forbidden(DomainError):
    status = 403


class Conflict(DomainError):
    status = 409


class Invalid(DomainError):
    """Input that passed the schema but breaks a rule; `errors` maps field -> messages."""

    status = 422


class PreconditionFailed(DomainError):
    status = 412


class Unauthorized(DomainError):
    status = 401


class TooManyRequests(DomainError):
    status = 429

    def __init__(self, message: str, retry_after: int, errors: dict | None = None, *, zh: str | None = None):
        super().__init__(message, errors, zh=zh)
        self.retry_after = retry_after


def field_error(field: str, message: str, zh: str | None = None) -> Invalid:
    """An Invalid naming one field (zh: the same in Chinese, for a reader who asks for it; a message written
    in Chinese is its own, so a tablet reads it without the field's English name before it)."""
    if zh is None and written_in_chinese(message):
        zh = message
    return Invalid(f"{field}: {message}", {field: [message]}, zh=zh, zh_errors={field: [zh]} if zh else None)
