"""A person's name for matching and for search: one folding of the ways the same name is written.

Hospital systems, the tablet and the health file write one name differently: full-width letters
(ＺＨＡＮＧ), spaces (张 三, ZHANG SAN), the middle dot of a transliterated name in any of its look-alikes
(阿依古丽·买买提, 阿依古丽•买买提, 阿依古丽.买买提, or none), pinyin instead of characters (ZHANG^SAN), any
case. They are folded away; the characters themselves never are: 张三 and 章三 are different names even
though both read zhangsan, which is why pinyin is compared only when one side has no characters.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from . import pinyin

# CJK unified ideographs, extension A and compatibility ideographs: a name "written in characters".
_CHARACTERS = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")
# Spaces, the HL7 component separator, and the dots that separate the parts of a transliterated name:
# U+00B7 (the one on ID cards), U+2022, U+2027, U+2219, U+22C5, U+30FB, U+FF0E, U+FF65, and ".".
_SEPARATORS = re.compile(r"[\s^·•‧∙⋅・．･.]+")
_NOT_LETTERS = re.compile(r"[^a-z]+")


@dataclass(frozen=True)
class NameForms:
    """A name folded for comparison: `text` (NFKC, lower case, no spaces or dots), `characters` (that text
    when it holds Chinese characters, else ""), `letters` (a-z only: the alphabetic form given, else the
    name's own letters, else the pinyin of its characters)."""

    text: str
    characters: str
    letters: str


def has_characters(name: str | None) -> bool:
    """Whether the name is written (at least partly) in Chinese characters."""
    return bool(_CHARACTERS.search(name or ""))


def written_in_chinese(text: str | None) -> bool:
    """Whether a message is written in Chinese, not an English sentence that quotes a Chinese name ("add the
    department '心内科' first"): its characters outweigh its Latin letters, a character counted twice (a
    word of Chinese is two or three characters, an English one five letters; "HbA1c须小于7%" is Chinese)."""
    characters = len(_CHARACTERS.findall(text or ""))
    return characters > 0 and 2 * characters >= len(_LATIN.findall(text or ""))


def _fold(name: str | None) -> str:
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", name or "")).lower()


def name_forms(name: str | None, alphabetic: str | None = "") -> NameForms:
    """The forms of a name (and of its alphabetic/pinyin spelling, when a sender gives one) for same_name."""
    text = _fold(name)
    characters = text if has_characters(text) else ""
    letters = _NOT_LETTERS.sub("", _fold(alphabetic) or ("" if characters else text))
    if not letters and characters:
        letters = _NOT_LETTERS.sub("", pinyin.full(characters))
    return NameForms(text or _fold(alphabetic), characters, letters)


def _forms(name: NameForms | str | None) -> NameForms:
    return name if isinstance(name, NameForms) else name_forms(name)


def same_name(a: NameForms | str | None, b: NameForms | str | None) -> bool | None:
    """True or False when the names can be compared, None when either is blank. Characters when both have
    them, else letters (pinyin) when both have them, else the folded text (mojibake such as 'ÕÅÈý' is the
    same as itself, and no name in characters)."""
    a, b = _forms(a), _forms(b)
    if not a.text or not b.text:
        return None
    if a.characters and b.characters:
        return a.characters == b.characters
    if a.letters and b.letters:
        return a.letters == b.letters
    return a.text == b.text


def same_characters(a: NameForms | str | None, b: NameForms | str | None) -> bool:
    """Both names written in Chinese characters, the same ones (pinyin is no evidence: 张三, 章三)."""
    a, b = _forms(a), _forms(b)
    return bool(a.characters) and a.characters == b.characters


def search_forms(name: str) -> dict[str, str]:
    """A resident's name as stored and its search keys: {"name", "name_pinyin", "name_initials"}."""
    name = (name or "").strip()
    return {"name": name, "name_pinyin": pinyin.full(name), "name_initials": pinyin.initials(name)}


__all__ = ["NameForms", "has_characters", "name_forms", "same_characters", "same_name", "search_forms",
           "written_in_chinese"]
