"""A follow-up form without its empty boxes, and back.

A signed visit's form (to_dict) carries every box of the national template, filled or not: a typical
record leaves about 20 of its 55 boxes empty, and those keys and nulls were more than half of the bytes a
tablet stored per visit. The tablet keeps the compact form and puts the empty boxes back when it reads a
record, so every reader (screens, rules, slips) sees the form as to_dict made it. A box that is absent
reads as empty everywhere already: from_dict fills a missing box with its default.

    compact = compact_form("hypertension", form)     # the keys of empty boxes left out
    full_form("hypertension", compact) == form        # True for any form to_dict produced

Stored: the server keeps each record's compact text (followups.form_compact, filled by migration f005 and on
every insert) and the tablet's store keeps the compact form (its upgrade 8). A change to which boxes may be
left out (_empty_boxes, _required, a box's added_later) leaves those stored texts on the old rule; full_form
still reads them, but such a change should come with a migration that fills form_compact again.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from .visits import DiabetesVisit, HypertensionVisit, _to_json, field_specs

# The registry codes of the conditions with a follow-up form (server FollowUp.condition, tablet store).
FORM_CLASSES: dict[str, type] = {"hypertension": HypertensionVisit, "t2dm": DiabetesVisit}


def is_empty_box(value: Any) -> bool:
    """Whether a box of a form holds nothing: no value, blank text, nothing ticked in a list, an unticked flag.

    The one test of an empty box: the completeness indicator (the server's missing_fields) and the compact
    forms a tablet stores both ask it. A zero is a value (0 cigarettes a day is an answer)."""
    return value is None or value is False or value == "" or (type(value) in (list, tuple) and not value)


@cache
def _empty_boxes(cls: type) -> dict[str, Any]:
    """Box name -> the JSON of the box when empty (its default), for the boxes compact forms may leave out.

    Not a required box (always filled), nor one added after records were signed (to_dict leaves those out
    while empty, so putting one back would show an old record a box it never had)."""
    out = {}
    for spec in field_specs(cls):
        if spec.required or spec.added_later:
            continue
        empty = _to_json(spec.default)
        if not is_empty_box(empty):  # a box whose default is an answer is never left out
            continue
        out[spec.name] = empty
    return out


@cache
def _order(cls: type) -> tuple[str, ...]:
    return tuple(spec.name for spec in field_specs(cls))


@cache
def _required(cls: type) -> tuple[str, ...]:
    return tuple(spec.name for spec in field_specs(cls) if spec.required)


def _visit_class(condition: str | None, form: Any) -> type | None:
    """The form's class, or None for what is not a visit form: a lost or death entry's data (it has no visit
    date), an unknown condition."""
    cls = FORM_CLASSES.get(condition or "")
    if cls is None or type(form) is not dict or not all(name in form for name in _required(cls)):
        return None
    return cls


def compact_form(condition: str | None, form: Any) -> Any:
    """The form without its empty boxes. Returned as it is: what is not a visit form of a known condition (a
    lost or death entry's data), and a form missing a box already (not one to_dict made). full_form gives
    back exactly the form for every form to_dict made; a form that was already missing a box comes back with
    that box empty, which is how from_dict (and so the rules) read it anyway."""
    cls = _visit_class(condition, form)
    if cls is None:
        return form
    empty = _empty_boxes(cls)
    if not empty.keys() <= form.keys():
        return form
    # Left out: an empty value of the box's own empty type (JSON false is not 0, "" is not null), so full_form
    # puts back exactly the value that was there.
    return {k: v for k, v in form.items() if not (type(v) is type(empty.get(k, ...)) and is_empty_box(v))}


def full_form(condition: str | None, form: Any) -> Any:
    """A compact form with its empty boxes put back, in the template's order (as to_dict gives it); a form
    that has every box is returned as it is."""
    cls = _visit_class(condition, form)
    if cls is None:
        return form
    empty = _empty_boxes(cls)
    if empty.keys() <= form.keys():
        return form
    out = {}
    for name in _order(cls):
        if name in form:
            out[name] = form[name]
        elif name in empty:
            value = empty[name]
            out[name] = [] if type(value) is list else value  # a list of its own: readers may change it
    if not form.keys() <= out.keys():  # keys the template does not know stay as they came, after its boxes
        out.update((key, value) for key, value in form.items() if key not in out)
    return out


def compact_text(condition: str | None, form: Any) -> str:
    """A form (JSON text or value) as compact JSON text without its empty boxes: what the sync sends a tablet
    that asks for compact forms, and what the tablet's store keeps."""
    if isinstance(form, str):
        form = json.loads(form)
    return json.dumps(compact_form(condition, form), ensure_ascii=False, separators=(",", ":"))
