"""The words of each notice, in Chinese, from plain values (no database, no Flask).

SMS leave the building through a provider, so they carry as little as will do: never an ID number or a
record number, never a diagnosis; a resident is addressed by surname and 先生/女士 (a family may share a
phone), a specialist is told only that a case is waiting and by when. The inbox is read signed in, by
someone who may open the case, so it names the patient.
"""
from __future__ import annotations

import datetime as dt

from gpcore.referral import ENTRY_LABELS, SESSIONS, STATE_LABELS, URGENCIES

SIGNATURE = "【全科签约服务】"
EXCERPT = 40
INBOX_TOPICS = {"create": "referral_new", "message": "referral_message", "attachment": "referral_attachment"}


def _day(day: dt.date) -> str:
    return f"{day.month}月{day.day}日"


def salutation(name: str, sex: str | None) -> str:
    """张先生 / 李女士 (the surname only; the whole name if the sex is not known)."""
    title = {"1": "先生", "2": "女士"}.get(sex or "")
    return f"{name[:1]}{title}" if title and name else name


def excerpt(text: str | None) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= EXCERPT else text[:EXCERPT - 1] + "…"


def urgent_case_sms(urgency: str, center: str, department: str, due: dt.date) -> str:
    """To a specialist (or each of a pool): an urgent or emergency case is waiting."""
    return (f"{SIGNATURE}您有一条{URGENCIES[urgency]}转诊待处理：{center}转至{department}，"
            f"请于{_day(due)}前登录专科工作台接诊或答复。")


def clinic_sms(name: str, sex: str | None, hospital: str, department: str, day: dt.date, session: str | None,
               contact: str | None) -> str:
    """To a resident: the specialist booked a clinic visit."""
    when = _day(day) + (SESSIONS.get(session or "", "") if session else "")
    tail = f"如有疑问请联系家庭医生团队（{contact}）。" if contact else "如有疑问请联系您的家庭医生团队。"
    return (f"{SIGNATURE}{salutation(name, sex)}您好，专科医生已为您预约{hospital}{department}门诊：{when}。"
            f"请携带医保卡和转诊单按时就诊。{tail}")


def followup_due_sms(name: str, sex: str | None, condition: str, due: dt.date, contact: str | None) -> str:
    """To a resident: a chronic-disease follow-up is due next week."""
    tail = f"，如需改约请致电{contact}" if contact else ""
    return (f"{SIGNATURE}{salutation(name, sex)}您好，您的{condition}随访将于{_day(due)}前到期，"
            f"家庭医生团队会与您联系{tail}。")


def referral_inbox(kind: str, patient: str, urgency: str, department: str, state: str, actor: str,
                   text: str | None, due: dt.date | None = None) -> str:
    """An inbox notice about a case: new, moved by an action, or a new message in its thread."""
    if kind == "create":
        return f"新{URGENCIES[urgency]}转诊：{patient}，{department}，应于{_day(due)}前答复。{excerpt(text)}".rstrip()
    if kind in ("message", "attachment"):
        what = "有新留言" if kind == "message" else "有新附件"
        return f"转诊（{patient}）{what}，{actor}：{excerpt(text)}"
    return (f"转诊（{patient}）：{actor}{ENTRY_LABELS[kind]}，当前状态“{STATE_LABELS[state]}”。"
            f"{excerpt(text)}").rstrip()


def inbox_topic(kind: str) -> str:
    return INBOX_TOPICS.get(kind, f"referral_{kind}")
