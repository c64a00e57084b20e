"""Whether two descriptions of a patient are the same person: one function, with named strictness levels.

A wrong "same" shows one person's results to another person's doctor, so each level says exactly what
ties two descriptions and what contradicts them; a name alone never ties anyone.

What ties (Verdict.ties, in this order):
- "id_number": the same citizen ID number on both;
- "hospital_patient_id": the same hospital's own patient number on both (messages of one hospital);
- "name_birth_sex": the same name, birth date and sex, each known on both sides.
What contradicts (Verdict.conflicts): a citizen ID number, name, birth date or sex known on both sides that
differs. The levels:

| level        | used to                                          | same when it ties by    | and nothing contradicts in |
|--------------|--------------------------------------------------|-------------------------|----------------------------|
| BY_ID_NUMBER | file a lab message under the ID number's holder  | id_number               | name, birth date           |
| STRICT       | join a queued report under a reused order number | id_number or name_birth_sex | ID, name, birth date, sex |
| CANDIDATE    | suggest a resident for staff to confirm          | name_birth_sex (characters) | ID number              |
| RELATED      | offer other queued messages to file together     | any of the three        | ID, birth date, sex        |

BY_ID_NUMBER does not read sex: the ID number carries it, and the filing rule has always matched on the
number with the name and birth date as its check. CANDIDATE compares names in Chinese characters only
(pinyin cannot tell 张三 from 章三) and leaves the ID number to the caller to report (a namesake whose file
holds another number is a conflict to show, not a silent "no"). RELATED does not compare names: a typo in
one message must not hide the other messages of the same ID number from the person filing them.
"""
from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field

from . import names


class Strictness(enum.Enum):
    """How sure a caller must be (see the module's table)."""

    BY_ID_NUMBER = "by_id_number"
    STRICT = "strict"
    CANDIDATE = "candidate"
    RELATED = "related"


@dataclass(frozen=True)
class Identity:
    """What one side knows of a patient. `sex` is GB/T 2261.1 ("1" male, "2" female; anything else is
    unknown); `id_number` a normalised citizen ID number; `hospital_numbers` (hospital, authority, value)
    triples of a hospital's own patient numbers."""

    name: str = ""
    name_alphabetic: str = ""
    birth_date: dt.date | None = None
    sex: str | None = None
    id_number: str | None = None
    hospital_numbers: frozenset[tuple] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Verdict:
    """`same` (also the verdict's truth value), what ties the two and what contradicts, as the level reads them."""

    same: bool
    ties: tuple[str, ...] = ()
    conflicts: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return self.same


_KNOWN_SEX = ("1", "2")
# level -> (ties that count, conflicts that count, names compared in characters only)
_LEVELS = {
    Strictness.BY_ID_NUMBER: (("id_number",), ("name", "birth_date"), False),
    Strictness.STRICT: (("id_number", "name_birth_sex"), ("id_number", "name", "birth_date", "sex"), False),
    Strictness.CANDIDATE: (("name_birth_sex",), ("id_number",), True),
    Strictness.RELATED: (("id_number", "hospital_patient_id", "name_birth_sex"), ("id_number", "birth_date", "sex"),
                         False),
}


def _known(a, b) -> bool:
    return a is not None and b is not None


def same_patient(a: Identity, b: Identity, level: Strictness) -> Verdict:
    """Whether `a` and `b` are the same patient at `level`, with the ties and conflicts that decided it."""
    counted_ties, counted_conflicts, characters_only = _LEVELS[level]
    a_sex = a.sex if a.sex in _KNOWN_SEX else None
    b_sex = b.sex if b.sex in _KNOWN_SEX else None
    a_id, b_id = a.id_number or None, b.id_number or None
    a_name = names.name_forms(a.name, a.name_alphabetic)
    b_name = names.name_forms(b.name, b.name_alphabetic)
    name_same = names.same_characters(a_name, b_name) if characters_only else names.same_name(a_name, b_name)

    conflicts = {
        "id_number": _known(a_id, b_id) and a_id != b_id,
        "name": names.same_name(a_name, b_name) is False,
        "birth_date": _known(a.birth_date, b.birth_date) and a.birth_date != b.birth_date,
        "sex": _known(a_sex, b_sex) and a_sex != b_sex,
    }
    ties = {
        "id_number": _known(a_id, b_id) and a_id == b_id,
        "hospital_patient_id": bool(a.hospital_numbers & b.hospital_numbers),
        "name_birth_sex": (name_same is True and _known(a.birth_date, b.birth_date) and a.birth_date == b.birth_date
                           and _known(a_sex, b_sex) and a_sex == b_sex),
    }
    tied = tuple(t for t in counted_ties if ties[t])
    against = tuple(c for c in counted_conflicts if conflicts[c])
    return Verdict(bool(tied) and not against, tied, against)


__all__ = ["Identity", "Strictness", "Verdict", "same_patient"]
