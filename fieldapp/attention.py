"""Records the server refused (the store's needs-attention list): how their reasons read to a GP, and which
of them the member at the tablet may fix on the follow-up or referral form. Plain Python (no Kivy): the sync
screen shows what this module says."""
from __future__ import annotations

from gpcore import referral as referral_rules
from gpcore.followup.visits import field_specs

from .visit import VISIT_CLASSES

# The follow-up form's boxes by their name in the server's errors ({"form": {"sbp": [...]}}), both forms.
_FORM_LABELS = {spec.name: spec.label.zh for cls in VISIT_CLASSES.values() for spec in field_specs(cls)}
# A health file's fields a tablet edits, and the sync protocol's own error keys.
_FIELD_LABELS = {"name": "姓名", "sex": "性别", "birth_date": "出生日期", "id_number": "身份证号", "phone": "电话",
                 "address": "住址", "contact_name": "联系人", "contact_phone": "联系人电话", "employer": "工作单位",
                 "condition": "慢病", "reason": "原因", "date": "日期", "cause": "死因", "scope": "范围",
                 "state": "状态", "department": "科室", "form": "随访表"}
# A referral's: its form's boxes (gpcore's upward form) and the case's own fields.
_REFERRAL_LABELS = {**{name: spec[1] for name, spec in referral_rules.UPWARD_FORM.items()},
                    "urgency": "紧急程度", "kind": "转诊方式", "specialist_id": "专科医生", "hospital_id": "医院",
                    "department": "科室", "lab_report_ids": "检验报告", "form": "转诊单"}


def label(name: str, entity: str | None = None) -> str:
    """A field's name as the GP knows it (the box's label) on a record of `entity` (a referral's boxes are
    not a visit's nor a health file's: 联系电话, 转诊方式); the name itself when there is none."""
    # The server names a box "form.visit_date" where one rule refused it, "visit_date" under "form" elsewhere.
    head = name.removeprefix("form.").split(".")[0]
    if entity == "referrals":
        return _REFERRAL_LABELS.get(head) or _FIELD_LABELS.get(head) or name
    return _FORM_LABELS.get(head) or _FIELD_LABELS.get(head) or name


def reason_text(reason: dict | None, entity: str | None = None) -> str:
    """The server's sentence, then each field's messages by label: "记录中有填写不对的项目。（性别：须是以下之一：
    0, 1, 2, 9。）". The follow-up form's errors come nested under "form"; `entity` names the record's kind
    (its boxes' labels)."""
    reason = reason or {}
    parts = []
    message = str(reason.get("message") or "")
    for name, messages in _flat(reason.get("errors") or {}):
        messages = [m for m in messages if m and m not in message]  # not what the sentence already says
        if not messages:
            continue
        named = label(name, entity) if name else ""
        # The rules' Chinese often names its box already ("随访日期不能晚于今天"): not twice.
        parts.append((f"{named}：" if named and not all(m.startswith(named) for m in messages) else "")
                     + "，".join(messages))
    return message + (f"（{'；'.join(parts)}）" if parts else "")


def _flat(errors, prefix: str = ""):
    """(field, [messages]) pairs from marshmallow's nested errors; a box of the form is named by itself."""
    if not isinstance(errors, dict):
        yield prefix or "", [str(errors)]
        return
    for key, value in errors.items():
        name = str(key) if prefix in ("", "form") else f"{prefix}.{key}"
        if isinstance(value, dict):
            yield from _flat(value, name)
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            yield name, value
        else:
            yield name, [str(value)]


def fixable(item: dict, member_id: str | None, store=None) -> bool:
    """A refused follow-up visit, amendment or new referral saved by this member: it opens on its form to be
    corrected and sent again. Only its author fixes it: the fix goes up in the fixer's name, a visit is signed
    by the doctor who made it, and a referral carries its doctor's name and phone. Not when the server refused
    it for who may record it (403: the author left the team, or no longer records visits), which no
    correction of the form changes; nor, with the store, when the resident (or the amended visit) is no
    longer on this tablet (a household moved to another team: the pull after the refusal took it away). A
    404 for a resident or visit still here is one the server did not have yet (sent in an earlier batch,
    refused, since fixed): sent again, it is taken."""
    fields = item.get("fields") or {}
    reason = item.get("reason") or {}
    if not (item.get("op") == "create" and isinstance(fields.get("form"), dict)
            and reason.get("code") not in ("device_other_team", 403)
            and member_id is not None and item.get("member_id") == str(member_id)):
        return False
    if item.get("entity") == "referrals":  # most often its addressee: no longer in the directory, or online
        if set(reason.get("errors") or {}) & {"resident_id", "entity_id"}:
            return False  # the resident moved out or died; the server has this id: no correction helps
        return store is None or store.record("residents", fields.get("resident_id")) is not None
    if item.get("entity") != "followups" or (fields.get("kind") or "visit") != "visit":
        return False
    if store is None:
        return True
    if fields.get("amends_id"):
        return store.record("followups", fields["amends_id"]) is not None
    return store.record("residents", fields.get("resident_id")) is not None
