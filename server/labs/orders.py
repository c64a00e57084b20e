"""Order numbers: which stored report a message's order adds to, and when a number names a new report.

A later message for an order (a final after a preliminary, a correction) adds to the report filed under its
number. Order numbers are reused (analysers recycle sample numbers): a message adds to a report of the last
ORDER_WINDOW only when its patient is the report's (place_orders, same_person); otherwise its order is a
report of its own under the next filler_reuse, filed when the message matched with certainty, queued when
it did not.
"""
from __future__ import annotations

import datetime as dt
import functools

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session, selectinload

from gpcore.patients import Identity, Strictness, same_patient

from .matching import Match, message_identity, patient_identity
from .messages import parsed
from .models import LabMessage, LabReport

# How long an order stays open to later messages under its number (a final after a preliminary, a
# correction): past it, the number is taken for a new order (analysers recycle sample numbers).
ORDER_WINDOW = dt.timedelta(days=30)


@functools.cache
def known_orders():
    """How many of the message's orders (bind parameters hospital_id, fillers) are already filed."""
    return (select(func.count()).select_from(LabReport)
            .where(LabReport.hospital_id == bindparam("hospital_id"),
                   LabReport.filler_no.in_(bindparam("fillers", expanding=True)))
            .scalar_subquery())


def open_reports(session: Session, hospital_id: int, fillers: list[str], now: dt.datetime) -> list[LabReport]:
    """The hospital's reports under these order numbers that a message may still add to, by filler_reuse."""
    # Only reports that changed within ORDER_WINDOW can be added to: analysers recycle sample numbers (daily,
    # some of them), so an older report under the number is another order, and reading every report ever
    # filed under a recycled number made each message slower than the last. Result rows are read only for
    # the reports joined (lazily, in intake._add_results), not for every report under the number.
    return session.scalars(
        select(LabReport).where(*_of_number(hospital_id, fillers), LabReport.changed_at >= now - ORDER_WINDOW)
        .options(selectinload(LabReport.messages).load_only(
            LabMessage.received_at, LabMessage.patient_name, LabMessage.patient_name_alphabetic,
            LabMessage.patient_birth_date, LabMessage.patient_sex, LabMessage.patient_id_number))  # not raw
        .order_by(LabReport.filler_reuse)).all()


def last_reuses(session: Session, hospital_id: int, fillers: list[str]) -> dict[str, int]:
    """The highest filler_reuse of each order number, older reports included (the unique key spans all)."""
    return dict(session.execute(select(LabReport.filler_no, func.max(LabReport.filler_reuse))
                                .where(*_of_number(hospital_id, fillers))
                                .group_by(LabReport.filler_no)).all())


def _of_number(hospital_id: int, fillers: list[str]) -> tuple:
    return LabReport.hospital_id == hospital_id, LabReport.filler_no.in_(fillers)


def place_orders(patient: parsed.LabPatient, match: Match, known: list[LabReport]) -> tuple[Match, dict[str, LabReport]]:
    """Which known report (by order number) each of the message's orders adds to, and the message's match.

    Results of one patient must never reach another patient's report, so a report is joined only when it is
    this patient's: held by the resident the message matched; or, for a message without a certain match of
    its own, held by the one resident matching suggested (name, birth date and sex, no namesake, no other ID
    number on file: the order number then confirms the suggestion, and the message is filed under them,
    method 'order'); or, for a message still without a match, held by
    nobody yet (queued) with a first message same_person agrees with. Any other report under the number is
    another patient's order that reuses it (or one waiting in the queue): the message's order becomes a
    report of its own, and that report and its owner are untouched. A message with a match keeps it (its
    results are not held back in the queue); one without goes to a person ('order_conflict').
    """
    own = match
    why = f"no certain match of its own ({own.reason}{': ' + own.note if own.note else ''})"
    if own.suggested is not None and any(rep.resident_id == own.suggested for rep in known):
        match = Match(own.suggested, "order", note=why)
    targets: dict[str, LabReport] = {}
    for rep in known:  # ordered by filler_reuse: the latest report of a number wins
        if match.resident_id is not None and rep.resident_id == match.resident_id:
            targets[rep.filler_no] = rep
        elif (match.resident_id is None and rep.resident_id is None and rep.messages
              and _same_as_message(patient, rep.messages[0])):
            targets[rep.filler_no] = rep
    held_by_others = sorted({rep.filler_no for rep in known} - set(targets))
    if not held_by_others:
        return match, targets
    note = (f"order {', '.join(held_by_others)} is also on another report (another patient's, or one waiting "
            "in the queue): this is a report of its own")
    if match.resident_id is not None:
        return Match(match.resident_id, match.method, note=f"{match.note}; {note}" if match.note else note), targets
    return Match(None, reason="order_conflict", note=f"{why}; {note}", suggested=own.suggested), targets


def same_person(patient: parsed.LabPatient, name: str, birth_date: dt.date | None, id_number: str | None,
                name_alphabetic: str = "", sex: str | None = None) -> bool:
    """Whether a message's patient, not matched with certainty, is the person known as (name, birth date, ID
    number, sex as GB/T 2261.1 '1'/'2') -- the patient of the first message of a queued report under the
    order number the message carries.

    The order number ties them only weakly (analysers recycle sample numbers), so gpcore.patients' STRICT
    level: different ID numbers, birth dates, sexes (each when both are known) or names are different people
    (a name that disagrees with the ID number is a mistyped ID, as in matching's id_name_mismatch); the same
    citizen ID number is the same person; otherwise the same name, birth date and sex, all known on both sides.
    """
    known = Identity(name=name, name_alphabetic=name_alphabetic, birth_date=birth_date, sex=sex,
                     id_number=id_number)
    return bool(same_patient(patient_identity(patient), known, Strictness.STRICT))


def _same_as_message(patient: parsed.LabPatient, other: LabMessage) -> bool:
    return bool(same_patient(patient_identity(patient), message_identity(other), Strictness.STRICT))
