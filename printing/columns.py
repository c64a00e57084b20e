"""Column arithmetic for receipt lines where a Chinese character takes two columns.

A receipt printer in Chinese mode prints every multi-byte character in a 24-dot cell and every ASCII
character in a 12-dot cell, so the column count of a line is what decides alignment, not len().
"""

from __future__ import annotations

import re
import unicodedata
from typing import Iterable, Sequence

# Characters that must not start a line (Chinese line-breaking rule, 禁则): closing punctuation.
_NO_LINE_START = set("，。、；：！？）》」』】〕〉”’…—·％")
# Characters that must not end a line: opening punctuation.
_NO_LINE_END = set("（《「『【〔〈“‘")


def clean_text(text: str) -> str:
    """Normalise text for printing: NFC, tabs to spaces, and control characters removed.

    Control characters are dropped because an ESC or GS byte inside a patient's name would be taken by the
    printer as a command.
    """
    text = unicodedata.normalize("NFC", str(text)).replace("\t", " ")
    return "".join(c for c in text if c == "\n" or unicodedata.category(c)[0] != "C")


def char_columns(char: str) -> int:
    """Columns one character takes on the printer: 1 for ASCII, 2 for Chinese and other multi-byte text."""
    if char < "\x80":
        return 1
    if unicodedata.combining(char):
        # NFC leaves few of these; GB18030 would send one as its own character, so give it a cell.
        return 2
    if unicodedata.east_asian_width(char) in ("W", "F", "A"):
        return 2
    # Narrow non-ASCII characters (e.g. '¢', half-width katakana) are multi-byte in GB18030 too, and the
    # printer prints every multi-byte code in a full 24-dot cell, whatever Unicode calls its width.
    return 2


def text_columns(text: str) -> int:
    """Columns a string takes on the printer."""
    return sum(char_columns(c) for c in text)


def truncate(text: str, columns: int) -> str:
    """Cut text to at most `columns`, never splitting a character."""
    out, used = [], 0
    for c in text:
        w = char_columns(c)
        if used + w > columns:
            break
        out.append(c)
        used += w
    return "".join(out)


def pad(text: str, columns: int, align: str = "left") -> str:
    """Pad (or truncate) text to exactly `columns` with spaces; align is left, right or center."""
    text = truncate(text, columns)
    gap = columns - text_columns(text)
    if align == "right":
        return " " * gap + text
    if align == "center":
        return " " * (gap // 2) + text + " " * (gap - gap // 2)
    return text + " " * gap


def _units(paragraph: str) -> list[str]:
    """Split a paragraph into unbreakable units: ASCII words, single Chinese characters, single spaces.

    Closing punctuation is glued to the unit before it and opening punctuation to the unit after it, so a
    line never starts with '，' or ends with '（'.
    """
    units: list[str] = []
    word = ""
    for c in paragraph:
        # ASCII runs ("120/80mmHg", "10.5") stay whole, so numbers are never broken across lines.
        if c < "\x80" and c != " ":
            word += c
            continue
        if word:
            units.append(word)
            word = ""
        units.append(c)
    if word:
        units.append(word)
    merged: list[str] = []
    carry = ""
    for u in units:
        if u in _NO_LINE_END:
            carry += u
            continue
        u = carry + u
        carry = ""
        if u[0] in _NO_LINE_START and merged and merged[-1] != " ":
            merged[-1] += u
        else:
            merged.append(u)
    if carry:
        merged.append(carry)
    return merged


def wrap(text: str, columns: int) -> list[str]:
    """Wrap text to lines of at most `columns`, breaking between characters or words, never inside one.

    Explicit newlines start a new line; an empty text gives one empty line.
    """
    if columns < 2:
        raise ValueError("need at least 2 columns to hold a Chinese character")
    lines: list[str] = []
    for paragraph in clean_text(text).split("\n"):
        line = ""
        for unit in _units(paragraph):
            if text_columns(line) + text_columns(unit) <= columns:
                line += unit
                continue
            if unit == " ":
                lines.append(line.rstrip(" "))
                line = ""
                continue
            if line.strip():
                lines.append(line.rstrip(" "))
                line = ""
            # A unit wider than a whole line (a range "110.0-160.0" in a narrow column, a URL) is broken after
            # its separators, and only a number wider than a line by characters.
            pieces = _break_long(unit, columns) if text_columns(unit) > columns else [unit]
            lines += pieces[:-1]
            line = pieces[-1]
        lines.append(line.rstrip(" "))
    return lines


_SEPARATORS = "-~/;,:|&"
_PIECES = re.compile(rf"[^{re.escape(_SEPARATORS)}]+[{re.escape(_SEPARATORS)}]*|[{re.escape(_SEPARATORS)}]+")


def _break_long(unit: str, columns: int) -> list[str]:
    """Lines for one unit wider than a line: broken after a separator, so "110.0-160.0" gives "110.0-" and
    "160.0", never "110.0-160." and "0" (a doctor would read 160 or 0 as the bound); a piece still wider
    than a line is split by characters."""
    out, line = [], ""
    for piece in _PIECES.findall(unit):
        if text_columns(line + piece) <= columns:
            line += piece
            continue
        if line:
            out.append(line)
            line = ""
        while text_columns(piece) > columns:
            head = truncate(piece, columns)
            out.append(head)
            piece = piece[len(head):]
        line = piece
    out.append(line)
    return out


def labelled(label: str, value: str, columns: int) -> list[str]:
    """Lines for 'label：value' with the value wrapped under itself (hanging indent)."""
    indent = text_columns(label)
    if indent > columns // 2:
        # A label that eats half the line leaves too little room; put the value under it instead.
        return [label] + wrap(value, columns)
    body = wrap(value, columns - indent)
    return [label + body[0]] + [" " * indent + line for line in body[1:]]


def table_row(cells: Sequence[str], widths: Sequence[int], aligns: Sequence[str] | None = None,
              gap: int = 1) -> list[str]:
    """Lines for one table row: each cell wrapped inside its column, columns separated by `gap` spaces."""
    aligns = aligns or ["left"] * len(cells)
    wrapped = [wrap(cell, width) for cell, width in zip(cells, widths)]
    height = max(len(w) for w in wrapped)
    lines = []
    for i in range(height):
        parts = [pad(w[i] if i < len(w) else "", width, align)
                 for w, width, align in zip(wrapped, widths, aligns)]
        lines.append((" " * gap).join(parts).rstrip(" "))
    return lines


def spread(left: str, right: str, columns: int) -> str:
    """One line with `left` at the start and `right` flush at the end (truncating left if needed)."""
    room = columns - text_columns(right) - 1
    if room < 0:
        return truncate(right, columns)
    left = truncate(left, room)
    return left + " " * (columns - text_columns(left) - text_columns(right)) + right


def columns_of(lines: Iterable[str]) -> list[int]:
    """Column count of each line (a helper for checks and tests)."""
    return [text_columns(line) for line in lines]
