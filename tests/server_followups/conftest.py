"""Helpers for the follow-up tests (shared through the `fu` fixture: test modules cannot import)."""
from __future__ import annotations

import datetime as dt
import uuid

import pytest

TODAY = dt.date(2026, 6, 15)  # a Monday


def htn_form(visit_date="2026-06-01", **changes) -> dict:
    """A complete, valid hypertension clinic visit (controlled for anyone: 128/82)."""
    form = {
        "visit_date": visit_date, "visit_mode": 1, "symptoms": [1], "sbp": 128, "dbp": 82,
        "weight_kg": 68.0, "height_cm": 168.0, "heart_rate": 72, "cigarettes_per_day": 0,
        "cigarettes_per_day_target": 0, "liquor_liang_per_day": 0, "liquor_liang_per_day_target": 0,
        "exercise_times_per_week": 5, "exercise_minutes_per_time": 30, "salt_intake": 1, "salt_intake_target": 1,
        "psychological_adjustment": 1, "compliance": 1, "medication_adherence": 1, "adverse_reaction": 1,
        "classification": 1, "medications": [{"name": "氨氯地平", "times_per_day": 1, "mg_per_time": 5}],
        "doctor": "王医生",
    }
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


def dm_form(visit_date="2026-06-01", **changes) -> dict:
    """A complete, valid diabetes clinic visit (FPG 6.2: controlled)."""
    form = htn_form(visit_date)
    form.update({"dorsalis_pedis": 1, "staple_food_g_per_day": 300, "staple_food_g_per_day_target": 250,
                 "fpg_mmol": 6.2, "hypoglycaemia": 1,
                 "medications": [{"name": "二甲双胍", "times_per_day": 2, "mg_per_time": 500}]})
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


def new_id() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def fu(world, as_user, clean_app):
    """The world with today pinned, and helpers to register patients and record visits over the API."""
    return helpers(world, as_user, clean_app)


def helpers(world, as_user, app):
    """`fu` for a fixture or a world_layer's build (ctx.world, ctx.as_user, ctx.app): pins today in app."""
    app.config["FOLLOWUP_TODAY"] = TODAY

    class Helpers:
        w = world
        TODAY = TODAY
        htn_form = staticmethod(htn_form)
        dm_form = staticmethod(dm_form)
        new_id = staticmethod(new_id)

        @staticmethod
        def register(resident_key, condition="hypertension", user="admin", diagnosed_on=None):
            body = {"condition": condition}
            if diagnosed_on:
                body["diagnosed_on"] = diagnosed_on
            r = as_user(user).post(f"/api/v1/residents/{world.residents[resident_key]}/conditions", json=body)
            assert r.status_code == 201, r.get_json()
            return r.get_json()["id"]

        @staticmethod
        def visit(resident_key, form=None, condition="hypertension", user="gp-a1", record_id=None, **extra):
            body = {"id": record_id or new_id(), "resident_id": world.residents[resident_key],
                    "condition": condition, "form": form if form is not None else
                    (htn_form() if condition == "hypertension" else dm_form()), **extra}
            return as_user(user).post("/api/v1/followups", json=body)

        @staticmethod
        def ok(response, status=201):
            assert response.status_code == status, response.get_json()
            return response.get_json()

    return Helpers
