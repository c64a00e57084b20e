"""Turning JSON values into typed field values, with bilingual problems instead of exceptions."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any, Callable

from .codes import Label

MAX_SHORT_TEXT = 100
MAX_LONG_TEXT = 500
MAX_NUMBER = 1e15  # far beyond any plausible value; the ranges in validation.py give the real limits


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with one field: a stable code and a sentence in English and in Chinese."""

    field: str
    code: str
    en: str
    zh: str


def key_name(key: Any) -> str:
    """A JSON key as it may appear in a message: text keys shortened, other keys by their type only."""
    return key[:60] if type(key) is str else f"<{type(key).__name__} key>"


def sentence_start(text: str) -> str:
    """Upper-case the first letter only (str.capitalize would turn "BP" into "bp")."""
    return text[:1].upper() + text[1:]


class FieldError(Exception):
    """Raised by a coercer; the caller adds the field name and label to make a Problem."""

    def __init__(self, code: str, en: str, zh: str, suffix: str = ""):
        super().__init__(en)
        self.code, self.en, self.zh, self.suffix = code, en, zh, suffix

    def problem(self, name: str, label: Label) -> Problem:
        """This error as a Problem about field `name`, sentences prefixed by the field's label."""
        return Problem(
            name + self.suffix, self.code, f"{sentence_start(label.en)} {self.en}.", f"{label.zh}{self.zh}。"
        )


def as_int(value: Any) -> int:
    """A whole number; JSON clients may send 120.0 for 120."""
    kind = type(value)
    if kind is float and value.is_integer():
        value, kind = int(value), int
    if kind is int:
        if -MAX_NUMBER <= value <= MAX_NUMBER:
            return value
        # Huge integers are refused here, before any message tries to print their 5,000 digits.
        raise FieldError("too_large", "is far too large", "数值过大")
    raise FieldError("not_integer", "must be a whole number", "必须是整数")


def as_number(value: Any) -> float:
    """A finite number (bool is not a number here)."""
    kind = type(value)
    if kind is float and math.isfinite(value):
        return value
    if kind is int:
        if abs(value) > MAX_NUMBER:  # float() of a 400-digit JSON integer raises OverflowError
            raise FieldError("too_large", "is far too large", "数值过大")
        return float(value)
    raise FieldError("not_number", "must be a number", "必须是数字")


def _text(value: Any, limit: int) -> str:
    if type(value) is not str:
        raise FieldError("not_text", "must be text", "必须是文字")
    text = value.strip()
    if len(text) > limit:
        raise FieldError("too_long", f"must be at most {limit} characters", f"不能超过{limit}个字")
    return text


def as_short_text(value: Any) -> str:
    """A name-sized text, stripped."""
    return _text(value, MAX_SHORT_TEXT)


def as_long_text(value: Any) -> str:
    """A note-sized text, stripped."""
    return _text(value, MAX_LONG_TEXT)


def as_date(value: Any) -> date:
    """A calendar date, given as a date or as an ISO 'YYYY-MM-DD' string."""
    if type(value) is date:
        return value
    if type(value) is str and len(value) == 10 and value[4] == "-" and value[7] == "-":
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise FieldError("not_date", "must be a date written YYYY-MM-DD", "日期格式应为YYYY-MM-DD")


def as_bool(value: Any) -> bool:
    """true or false, nothing truthy."""
    if type(value) is bool:
        return value
    raise FieldError("not_bool", "must be true or false", "必须为是或否")


def _distinct(items: Any, item: Callable[[Any], Any]) -> tuple:
    if type(items) not in (list, tuple):
        raise FieldError("not_list", "must be a list", "必须是列表")
    result = tuple([item(value) for value in items])
    if len(set(result)) != len(result):
        raise FieldError("duplicate", "lists a code twice", "有重复的选项")
    return result


def as_int_codes(value: Any) -> tuple[int, ...]:
    """A list of distinct whole-number codes (multi-choice boxes)."""
    return _distinct(value, as_int)


def as_str_codes(value: Any) -> tuple[str, ...]:
    """A list of distinct text codes."""
    return _distinct(value, as_short_text)
