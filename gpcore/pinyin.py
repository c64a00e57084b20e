"""Pinyin forms of a Chinese name, for search by initials (zs finds 张三) on tablet and server."""
from __future__ import annotations

from functools import lru_cache

from pypinyin import Style, lazy_pinyin


@lru_cache(maxsize=20_000)
def _char(ch: str) -> tuple[str, str]:
    # Names draw on a few thousand characters, so a per-character cache makes bulk imports cheap.
    full = "".join(lazy_pinyin(ch, errors="ignore")).lower()
    first = "".join(lazy_pinyin(ch, style=Style.FIRST_LETTER, errors="ignore")).lower()
    if not full and ch.isascii() and ch.isalnum():
        full = first = ch.lower()
    return full, first


def full(name: str) -> str:
    """Toneless pinyin, lower case, no spaces: 张三 -> zhangsan."""
    return "".join(_char(ch)[0] for ch in (name or ""))


def initials(name: str) -> str:
    """First letters: 张三 -> zs; Latin letters and digits are kept in lower case."""
    return "".join(_char(ch)[1] for ch in (name or ""))
