"""Compact follow-up forms (gpcore.followup.compact): the empty boxes left out, and put back exactly."""
from __future__ import annotations

import datetime as dt
import random

import pytest

from gpcore.followup.compact import FORM_CLASSES, compact_form, full_form, is_empty_box
from gpcore.followup.visits import field_specs


def test_an_empty_box_holds_nothing_and_a_zero_is_an_answer():
    assert all(is_empty_box(v) for v in (None, "", [], (), False))
    assert not any(is_empty_box(v) for v in (0, 0.0, "0", [0], True, "无", {"a": None}))


def _form(cls, rng: random.Random, fill: float) -> dict:
    """A form as gpcore's to_dict makes it, each optional box filled with probability `fill`."""
    data = {"visit_date": "2026-03-02", "visit_mode": 1}
    values = {"int": 0, "number": 0.0, "text": "头晕", "date": "2026-06-01"}
    for spec in field_specs(cls):
        if spec.required or rng.random() >= fill:
            continue
        name = spec.coerce.__name__
        if name == "as_medications":
            data[spec.name] = [{"name": "氨氯地平", "times_per_day": 1, "mg_per_time": 5}]
        elif name == "as_int_codes":
            data[spec.name] = [1]
        elif name == "as_str_codes":
            data[spec.name] = ["chest_pain"]
        elif name == "as_bool":
            data[spec.name] = True
        elif name == "as_date":
            data[spec.name] = values["date"]
        elif name in ("as_int", "as_number"):
            data[spec.name] = rng.choice((0, 1, 2))  # 0 is an answer, never left out
        else:
            data[spec.name] = values["text"]
    return cls.from_dict(data).to_dict()


@pytest.mark.parametrize("condition", sorted(FORM_CLASSES))
@pytest.mark.parametrize("fill", [0.0, 0.3, 0.7, 1.0])
def test_a_compact_form_reads_back_as_the_form_to_dict_made(condition, fill):
    cls = FORM_CLASSES[condition]
    rng = random.Random(f"{condition}{fill}")
    for _ in range(50):
        form = _form(cls, rng, fill)
        compact = compact_form(condition, form)
        assert all(not is_empty_box(v) or k in ("visit_date", "visit_mode") for k, v in compact.items())
        back = full_form(condition, compact)
        assert back == form and list(back) == list(form)  # same boxes, values and order
        assert cls.from_dict(compact) == cls.from_dict(form)  # what the rules read is the same


def test_an_empty_form_keeps_only_its_required_boxes_and_answers():
    form = FORM_CLASSES["hypertension"].from_dict(
        {"visit_date": "2026-03-02", "visit_mode": 3, "cigarettes_per_day": 0}).to_dict()
    assert compact_form("hypertension", form) == {"visit_date": "2026-03-02", "visit_mode": 3,
                                                  "cigarettes_per_day": 0}


def test_what_is_not_a_whole_visit_form_is_kept_as_it_is():
    entry = {"date": "2026-03-02", "reason": "搬迁外地"}  # a lost-to-follow-up entry's data
    assert compact_form("hypertension", entry) == entry and full_form("hypertension", entry) == entry
    form = FORM_CLASSES["t2dm"].from_dict({"visit_date": "2026-03-02", "visit_mode": 1}).to_dict()
    assert compact_form("asthma", form) == form
    # A box missing already: not a form to_dict made, so nothing is left out (it could not come back exactly).
    partial = {k: v for k, v in form.items() if k != "bmi"}
    assert compact_form("t2dm", partial) == partial
    # A key the template does not know, and a box added later (absent while empty), stay as they were.
    odd = {**form, "legacy_box": None, "symptoms_not_urgent": [3]}
    assert full_form("t2dm", compact_form("t2dm", odd)) == odd


def test_full_form_gives_each_reader_its_own_empty_lists():
    compact = {"visit_date": dt.date(2026, 3, 2).isoformat(), "visit_mode": 1}
    first, second = full_form("hypertension", compact), full_form("hypertension", compact)
    first["symptoms"].append(1)
    assert second["symptoms"] == []
