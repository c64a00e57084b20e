"""Referrals on the tablet, without widgets: the upward form pre-filled from the store by gpcore's rule (the
server's own), whom a case can go to (the directory as last synced), what a case shows, and its slips.

    form, suggested = prefill(store, resident_id, today, me=session.me, center=session.center, team=...)
    waiting_offer(store, resident_id)    a referral the rules asked for and no case answers yet, or None
    choices = addressees(store)          [{"key", "label", "specialist_id" | "hospital_id"+"department", ...}]
    addressee_key(store, case_fields)    which of those a case was addressed to (None: not in the directory)
    referral_bytes(config, store.referral(case_id), "referral" | "return")
"""
from __future__ import annotations

import datetime as dt

from gpcore import referral as rules
from gpcore.referral import prefill as prefill_rules
from printing import referral_slip, return_slip
from printing.referrals import referral_document, return_document

from . import printouts


def prefill(store, resident_id: str, today: dt.date, *, me: dict, center: dict, team: dict | None = None,
            condition: str | None = None) -> tuple[dict, dict | None]:
    """(the upward form pre-filled from the resident's file on this tablet, what the rules asked for: of
    `condition`'s latest visit if given, else the most urgent; the server's rule, gpcore's)."""
    res = store.resident(resident_id)
    hh = store.db.execute("SELECT phone FROM households WHERE id = ?", (res["household_id"],)).fetchone()
    visits = [v for v in store.visits(resident_id) if (v.get("kind") or "visit") == "visit"]
    lines = prefill_rules.health_lines([(c["condition"], c.get("status") or "managed") for c in res["conditions"]],
                                       res, visits)
    suggested = prefill_rules.asked_by_the_rules([v for v in visits if condition in (None, v["condition"])],
                                                 res.get("birth_date"))
    ident = prefill_rules.identity(res, res.get("address"), hh[0] if hh else None, today)
    phone = me.get("phone") or (team or {}).get("phone") or center.get("phone")
    form = prefill_rules.upward_form(ident, lines, suggested, today=today, doctor=me.get("full_name"),
                                     doctor_phone=phone, institution=center.get("name"))
    return form, suggested


def waiting_offer(store, resident_id: str) -> dict | None:
    """The referral the rules asked for at one of the resident's latest visits and that no case answers yet
    (gpcore's asked_by_the_rules and still_asked, as the worklist and the server's worklist offer it)."""
    res = store.resident(resident_id)
    visits = [v for v in store.visits(resident_id) if (v.get("kind") or "visit") == "visit"]
    offer = prefill_rules.asked_by_the_rules(visits, res.get("birth_date"))
    cases = store.referrals(resident_id) + store.refused_referrals(resident_id)  # a refused one is fixed
    return offer if prefill_rules.still_asked(offer, cases) else None


def addressees(store) -> list[dict]:
    """Whom a case can be sent to: every specialist of the directory (named), then every department's pool,
    each with a label a doctor reads ("张主任 主任医师 · 仁济医院东院 心内科", "心内科（科室）· ...")."""
    book = store.directory()
    hospitals = {str(h["id"]): h["name"] for h in book["hospitals"]}
    out = []
    for s in book["specialists"]:
        where = f"{hospitals.get(str(s['hospital_id']), '')} {s['department'] or ''}".strip()
        out.append({"key": f"s{s['user_id']}", "specialist_id": int(s["user_id"]),
                    "label": f"{s['full_name']} {s.get('title_label') or ''} · {where}",
                    "detail": s.get("specialty") or "", "takes_econsult": s["takes_econsult"]})
    for d in book["departments"]:
        out.append({"key": f"d{d['id']}", "hospital_id": int(d["hospital_id"]), "department": d["name"],
                    "label": f"{d['name']}（科室）· {hospitals.get(str(d['hospital_id']), '')}",
                    "detail": d.get("specialty") or "", "takes_econsult": True})
    return out


def addressee_key(store, fields: dict) -> str | None:
    """The key among addressees(store) of a case's addressee (its specialist, or its hospital's department),
    or None when the directory no longer has it."""
    if fields.get("specialist_id") is not None:
        key = f"s{fields['specialist_id']}"
        return key if any(c["key"] == key for c in addressees(store)) else None
    for d in store.directory()["departments"]:
        if str(d["hospital_id"]) == str(fields.get("hospital_id")) and d["name"] == fields.get("department"):
            return f"d{d['id']}"
    return None


def state_label(case: dict) -> str:
    """The case's state in words; a case the server has not taken yet is 'waiting to go up'."""
    if case.get("needs_attention"):
        return "未被服务器接受"
    if case.get("state") is None:
        return "待上传"
    return rules.STATE_LABELS.get(case["state"], case["state"])


def referral_bytes(config: printouts.PrinterConfig, case: dict, part: str = "referral") -> bytes:
    """The slip of a case for the configured printer: the upward slip with its stub, or the return form
    (printing.referrals.NoReturnForm before the hospital wrote one)."""
    if part == "return":
        return return_slip(return_document(case), config.settings())
    return referral_slip(referral_document(case), config.settings())
