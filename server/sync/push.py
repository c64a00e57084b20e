"""Applying an uploaded batch: idempotent per batch and per record, field-level merge, answers per record.

Validation is the REST API's own: the same marshmallow schemas and the same household services (and
through them gpcore's rules), so a tablet's record is refused for exactly the reasons a form would be.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Callable

import marshmallow as ma
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gpcore import names

from .. import clock, messages_zh
from ..api import etag_of
from ..db import utcnow
from ..errors import DomainError, Invalid, NotFound
from ..followups import services as followups
from ..followups.schemas import DeviceAssessmentSchema
from ..households import services as hh
from ..referrals import services as referrals
from ..referrals.schemas import ReferralCreateSchema
from ..households.models import ChronicCondition, Household, Resident
from ..households.schemas import (ConditionSchema, ConditionUpdateSchema, HouseholdCreateSchema,
                                  HouseholdUpdateSchema, ResidentCreateSchema, ResidentUpdateSchema)
from ..scope import Actor, require_visible
from . import services
from .models import SyncBatch, SyncConflict, SyncReceipt
from .registry import REGISTRY, SyncedEntity

_MISSING = object()


@dataclass
class PushHandler:
    """How uploads of one entity are applied. `load` returns the row in the actor's scope (NotFound if
    not); `update` applies validated fields; `create` makes the row with the client's id."""

    load: Callable[[Session, Actor, str], object]
    create: Callable[[Session, Actor, str, dict], object] | None = None
    update: Callable[[Session, Actor, object, dict], object] | None = None
    create_schema: type[ma.Schema] | None = None
    update_schema: type[ma.Schema] | None = None
    # Fields whose update must be sent whole (the service needs them together), from the current row.
    update_requires: tuple[str, ...] = ()
    # An update that is a state transition, applied whole by the domain instead of merged field by field:
    # (session, actor, row, record) -> the fields applied; refusals are the domain's errors.
    transition: Callable[[Session, Actor, object, dict], list[str]] | None = None


def _load_household(session, actor, entity_id):
    # The scope rule of hh.get_household (require_visible), without its eager load of every member: push
    # loads the batch's rows in one query first (_prefetch), so this is an identity-map hit.
    return require_visible(actor, session.get(Household, entity_id), "household")


def _load_resident(session, actor, entity_id):
    # As hh.get_resident(log_read=False), without eager loads (see _load_household).
    return require_visible(actor, session.get(Resident, entity_id), "resident")


def _create_household(session, actor, entity_id, data):
    return hh.create_household(session, actor, {**data, "id": entity_id})


def _create_resident(session, actor, entity_id, data):
    # create_resident passes unknown keys to the model, so the client's id becomes the row's id.
    return hh.create_resident(session, actor, {**data, "id": entity_id})


def _create_condition(session, actor, entity_id, data):
    res = hh.get_resident(session, actor, data.pop("resident_id"), log_read=False)
    cond = hh.add_condition(session, actor, res, data)
    cond.id = entity_id  # not flushed yet: the entry is inserted with the tablet's id
    return cond


class _ConditionCreate(ConditionSchema):
    resident_id = ma.fields.String(required=True)


REGISTRY["households"].push = PushHandler(
    load=_load_household, create=_create_household, update=hh.update_household,
    create_schema=HouseholdCreateSchema, update_schema=HouseholdUpdateSchema)
REGISTRY["residents"].push = PushHandler(
    load=_load_resident, create=_create_resident, update=hh.update_resident,
    create_schema=ResidentCreateSchema, update_schema=ResidentUpdateSchema)
REGISTRY["chronic_conditions"].push = PushHandler(
    load=hh.get_condition, create=_create_condition, update=hh.update_condition,
    create_schema=_ConditionCreate, update_schema=ConditionUpdateSchema,
    update_requires=("status", "status_date"))


class _VisitPush(ma.Schema):
    """A follow-up record from a tablet: a new signed visit, an amendment of one (amends_id + reason), or a
    lost-to-follow-up / death entry (kind, date, reason / cause). The form itself is checked by gpcore
    inside the followups service, as for the REST API."""

    kind = ma.fields.String(load_default="visit", validate=ma.validate.OneOf(["visit", "lost", "death"]))
    resident_id = ma.fields.String(validate=ma.validate.Length(max=36))
    condition = ma.fields.String(validate=ma.validate.OneOf(list(followups.PARSERS)))
    form = ma.fields.Dict()
    recorded_at = ma.fields.AwareDateTime(allow_none=True)
    device_assessment = ma.fields.Nested(DeviceAssessmentSchema, allow_none=True)
    amends_id = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=36))
    reason = ma.fields.String(allow_none=True, validate=ma.validate.Length(min=2, max=500))
    # Lost / death entries, as the REST API's LostSchema / DeathSchema take them.
    date = ma.fields.Date()
    cause = ma.fields.String(validate=ma.validate.Length(min=2, max=200))

    @ma.validates_schema
    def _either(self, data, **_kw):
        kind = data.get("kind", "visit")
        if kind != "visit":
            need = ("resident_id", "condition", "date", "cause" if kind == "death" else "reason")
            missing = {f: [f"a {kind} entry needs {f}"] for f in need if not data.get(f)}
            if kind == "lost" and data.get("reason") and len(data["reason"]) > 200:
                missing["reason"] = ["at most 200 characters"]
            if missing:
                raise ma.ValidationError(missing)
            return
        if not data.get("form"):
            raise ma.ValidationError({"form": ["a visit needs the form"]})
        if data.get("amends_id"):
            if not data.get("reason"):
                raise ma.ValidationError({"reason": ["an amendment needs the reason"]})
        elif not (data.get("resident_id") and data.get("condition")):
            raise ma.ValidationError({"resident_id": ["a new record needs resident_id and condition"]})



def _create_followup(session, actor, entity_id, data):
    # Through the followups service, so the server re-runs the shared rules on what the tablet signed.
    data = {k: v for k, v in data.items() if v is not None}
    today = clock.today()
    kind = data.pop("kind", "visit")
    if kind == "lost":
        return followups.record_lost(session, actor, {**data, "id": entity_id}, today=today)[0]
    if kind == "death":
        return followups.record_death(session, actor, {**data, "id": entity_id}, today=today)[0]
    if data.get("amends_id"):
        amends = data.pop("amends_id")
        data.pop("resident_id", None), data.pop("condition", None)
        return followups.amend(session, actor, amends, {**data, "id": entity_id}, today=today)[0]
    return followups.record_visit(session, actor, {**data, "id": entity_id}, today=today)[0]


def _load_followup(session, actor, entity_id):
    return followups.get_followup(session, actor, entity_id, log_read=False)


# Append-only: only 'create' is accepted (an 'update' is refused before a handler runs).
REGISTRY["followups"].push = PushHandler(load=_load_followup, create=_create_followup,
                                         create_schema=_VisitPush)


class _ReferralAction(ma.Schema):
    """A team's action on a case decided on a tablet: which one and what it carries (checked by gpcore in
    the referrals service, as for the API)."""

    action = ma.fields.String(required=True, validate=ma.validate.OneOf(["cancel", "give_info", "close"]))
    reason = ma.fields.String(validate=ma.validate.Length(max=2000))
    info = ma.fields.String(validate=ma.validate.Length(max=2000))
    followup_id = ma.fields.String(validate=ma.validate.Length(max=36))
    note = ma.fields.String(validate=ma.validate.Length(max=500), allow_none=True)


def _act_on_referral(session, actor, row, rec):
    # The version the tablet decided on is its If-Match: a case the specialist moved meanwhile is refused
    # (412, or 409 when the state no longer allows it), naming the current state; never applied blindly.
    data = _ReferralAction().load(rec["fields"])
    version = (rec.get("base") or {}).get("version")
    if_match = etag_of(SimpleNamespace(id=row.id, version=version)) if version is not None else None
    referrals.act(session, actor, row.id, data.pop("action"), data, if_match, clock.today())
    return sorted(rec["fields"])


def _create_referral(session, actor, entity_id, data):
    # Through the referrals service: the server's state machine starts the case (requested), fills the
    # identity from the health file and checks the form and the addressee exactly as POST /referrals does.
    return referrals.create(session, actor, data, clock.today(), referral_id=entity_id)


def _load_referral(session, actor, entity_id):
    return referrals.get(session, actor, entity_id, log_read=False)


class _MessagePush(ma.Schema):
    """A thread message written on a tablet: the case and the text (checked by the referrals service)."""

    referral_id = ma.fields.String(required=True, validate=ma.validate.Length(max=36))
    text = ma.fields.String(required=True, validate=ma.validate.Length(max=2000))
    # The name the tablet shows until the server's row arrives; the server's author is the signed-in user.
    author_name = ma.fields.String(load_default=None, allow_none=True)


def _create_message(session, actor, entity_id, data):
    return referrals.post_message(session, actor, data["referral_id"], data["text"], client_id=entity_id)


def _load_message(session, actor, entity_id):
    raise NotFound("Thread messages are never changed.")


# A case sent from a tablet, the team's later actions on it (an 'update' that is a transition), and thread
# messages (append-only).
REGISTRY["referrals"].push = PushHandler(load=_load_referral, create=_create_referral,
                                         create_schema=ReferralCreateSchema, transition=_act_on_referral)
REGISTRY["referral_messages"].push = PushHandler(load=_load_message, create=_create_message,
                                                 create_schema=_MessagePush)


def _reason(err: Exception, zh: bool = False) -> dict:
    """A refused record's reason: the REST error body's code, message and errors. zh (the tablet asked for
    Chinese, Accept-Language): the Chinese the error carries, marshmallow's messages translated, and a
    sentence by kind where an error has no Chinese of its own; a GP reads this on the tablet."""
    if isinstance(err, ma.ValidationError):
        if zh:
            return {"code": 422, "message": "记录中有填写不对的项目。",
                    "errors": messages_zh.schema_messages(err.messages)}
        return {"code": 422, "message": "The record has invalid fields.", "errors": err.messages}
    if isinstance(err, DomainError):
        out = {"code": err.status, "message": _zh_message(err) if zh else err.message}
        if isinstance(err, NotFound):
            out["errors"] = {"scope": ["本团队的档案中没有（可能还没上传，或已调到其他团队、已删除）" if zh else
                                       "not in your team's households (moved to another team or removed)"]}
        elif err.errors:
            out["errors"] = messages_zh.schema_messages(err.zh_errors or err.errors) if zh else err.errors
        return out
    if zh:
        return {"code": 409, "message": "这条记录与服务器上的数据冲突（重复，或它引用的记录不存在）。"}
    return {"code": 409, "message": "The record conflicts with existing data (a duplicate or a missing "
                                    "reference)."}


def _zh_message(err: DomainError) -> str:
    """The error's Chinese; a message already written in Chinese (the referral rules'); else a sentence by
    kind with the English detail after it, for whoever supports the GP."""
    if err.zh:
        return err.zh
    if names.written_in_chinese(err.message):
        return err.message
    return f"{_ZH_BY_STATUS.get(err.status, _ZH_REFUSED)}：{err.message}"


# For a DomainError raised without Chinese words of its own.
_ZH_REFUSED = "服务器未接受这条记录"
_ZH_BY_STATUS = {403: "无权提交这条记录", 404: "服务器上找不到这条记录涉及的档案",
                 409: "这条记录与服务器上的数据冲突", 412: "这条记录在服务器上已被别人改过",
                 422: "这条记录有不符合规则的内容"}


def _device_time(raw: str | None) -> dt.datetime | None:
    if not raw:
        return None
    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def push(session: Session, actor: Actor, body: dict, *, zh: bool = False) -> dict:
    """Apply a batch and return its answer; a batch seen before gets its stored answer unchanged (in the
    language it was first answered in). zh: refused records' reasons in Chinese (_reason)."""
    team = services._team(actor)
    stored = session.get(SyncBatch, body["batch_id"])
    if stored is not None:
        if stored.user_id != actor.user_id:
            raise Invalid("This batch id was used by someone else.", {"batch_id": ["already used"]})
        return stored.answer
    epoch = services.epoch(session)
    received = utcnow()
    receipts, _held = _prefetch(session, body["records"])
    results = []
    for rec in body["records"]:
        results.append(_apply_record(session, actor, team, body, rec, received, receipts, zh))
    _add_current(session, team, body["records"], results)
    answer = {"batch_id": body["batch_id"], "epoch": epoch, "results": results}
    session.add(SyncBatch(batch_id=body["batch_id"], device_id=body["device_id"], user_id=actor.user_id,
                          received_at=received, records=len(results), answer=answer))
    return answer


def stored_answer(session: Session, actor: Actor, batch_id: str) -> dict | None:
    """The answer already given to a batch (after a concurrent duplicate lost the insert race)."""
    stored = session.get(SyncBatch, batch_id)
    return stored.answer if stored is not None and stored.user_id == actor.user_id else None


_MODELS = {"households": Household, "residents": Resident, "chronic_conditions": ChronicCondition}


def _prefetch(session: Session, records: list[dict]) -> tuple[dict[str, SyncReceipt], list]:
    """One query for the batch's earlier receipts and one per entity for the rows it updates; per record,
    these cost most of a push (measured: ~11 statements each). The rows are returned for the caller to hold
    while it applies the batch: the session's identity map only keeps weak references, so rows nobody holds
    are gone again and each session.get would query anew (measured on the district's morning: a resident
    query per record despite the prefetch)."""
    ids = [r["change_id"] for r in records]
    receipts = {}
    for i in range(0, len(ids), 1000):
        receipts.update((r.change_id, r) for r in session.scalars(
            select(SyncReceipt).where(SyncReceipt.change_id.in_(ids[i:i + 1000]))))
    wanted: dict[str, set] = {}
    for r in records:
        if r["op"] == "update" and r["entity"] in _MODELS:
            wanted.setdefault(r["entity"], set()).add(r["entity_id"])
    held = []
    for entity, entity_ids in wanted.items():
        model = _MODELS[entity]
        chunk = sorted(entity_ids)
        for i in range(0, len(chunk), 1000):
            held += session.scalars(select(model).where(model.id.in_(chunk[i:i + 1000]))).all()
    return receipts, held


def _add_current(session: Session, team: int, records: list[dict], results: list[dict]) -> None:
    """Every answer carries its record as the team's tablets would receive it now (after the whole batch),
    or None when it is out of their scope; one query per entity."""
    wanted: dict[str, set] = {}
    for rec in records:
        if rec["entity"] in REGISTRY:
            wanted.setdefault(rec["entity"], set()).add(rec["entity_id"])
    found: dict[tuple[str, str], dict] = {}
    conn = session.connection()
    for name, ids in wanted.items():
        ent = REGISTRY[name]
        keys = sorted(ids)
        # Records the tablet created carry its id; the server may have numbered them (client_key).
        key_col = ent.table.c[ent.client_key] if ent.client_key else ent.table.c.id
        at = ent.columns.index(key_col.name)
        for i in range(0, len(keys), 1000):
            part = keys[i:i + 1000] if ent.client_key else [ent.key(k) for k in keys[i:i + 1000]]
            for row in conn.execute(ent.scope(team).where(key_col.in_(part))):
                found[(name, str(row[at]))] = dict(zip(ent.columns, ent.wire(row)))
    for rec, res in zip(records, results):
        if rec["entity"] in REGISTRY:
            res["current"] = found.get((rec["entity"], rec["entity_id"]))


def _apply_record(session: Session, actor: Actor, team: int, body: dict, rec: dict, received,
                  receipts: dict[str, SyncReceipt], zh: bool = False) -> dict:
    change_id = rec["change_id"]
    prior = receipts.get(change_id)
    ent = REGISTRY.get(rec["entity"])
    if prior is not None:
        return {"change_id": change_id, "status": "duplicate", "original": prior.answer}
    answer: dict
    if ent is None or ent.push is None or rec["op"] not in ("create", "update") or (
            rec["op"] == "update" and ent.append_only):
        message = ("平板不能提交这类记录或这种改动。" if zh
                   else "This record type or operation is not accepted from tablets.")
        answer = {"status": "rejected", "reason": {"code": 422, "message": message,
                                                   "errors": {"entity": [rec["entity"]], "op": [rec["op"]]}}}
    else:
        try:
            with session.begin_nested():
                answer = (_create if rec["op"] == "create" else _update)(session, actor, ent, rec, body, received)
                session.flush()
        except (DomainError, ma.ValidationError, IntegrityError) as err:
            answer = {"status": "rejected", "reason": _reason(err, zh)}
    answer = {"change_id": change_id, **answer}
    receipt = SyncReceipt(change_id=change_id, batch_id=body["batch_id"], device_id=body["device_id"],
                          user_id=actor.user_id, entity=rec["entity"], entity_id=rec["entity_id"],
                          op=rec["op"], status=answer["status"], answer=dict(answer),
                          device_time=_device_time(rec.get("device_time")), received_at=received)
    session.add(receipt)
    receipts[change_id] = receipt  # the same record twice in one batch: the second is a duplicate
    return answer


def _create(session, actor, ent: SyncedEntity, rec: dict, body: dict, received) -> dict:
    if _exists(session, ent, rec["entity_id"]):
        raise Invalid("A record with this id already exists.", {"entity_id": ["already exists"]},
                      zh="服务器上已有这个编号的记录。", zh_errors={"entity_id": ["已存在"]})
    data = ent.push.create_schema().load(rec["fields"])
    ent.push.create(session, actor, rec["entity_id"], data)
    return {"status": "applied", "applied": sorted(rec["fields"])}


def _exists(session: Session, ent: SyncedEntity, entity_id: str) -> bool:
    key = ent.table.c[ent.client_key or "id"]
    return session.connection().execute(select(key).where(key == entity_id)).first() is not None


def _update(session, actor, ent: SyncedEntity, rec: dict, body: dict, received) -> dict:
    handler: PushHandler = ent.push
    row = handler.load(session, actor, rec["entity_id"])
    if handler.transition is not None:
        return {"status": "applied", "applied": handler.transition(session, actor, row, rec)}
    now = dict(zip(ent.columns, ent.wire([getattr(row, c) for c in ent.columns])))
    fields, base = rec["fields"], rec.get("base") or {}
    allowed = set(handler.update_schema().fields)
    unknown = sorted(set(fields) - allowed)
    if unknown:
        raise Invalid("These fields cannot be changed from a tablet.", {f: ["not editable"] for f in unknown})
    winning, conflicts = {}, {}
    for name, value in fields.items():
        current = now.get(name)
        if _same(current, value):
            continue  # already so: nothing to apply, nothing lost
        started = base.get(name, _MISSING)
        if started is _MISSING or _same(started, current):
            winning[name] = value
        else:
            # Someone else changed this field after the tablet read it: the earlier write stands (server
            # order) and this value is kept in the conflict log for a person to review.
            conflicts[name] = {"current": current, "yours": value, "base": started}
    if winning:
        data = {**{k: now[k] for k in handler.update_requires}, **winning}
        loaded = handler.update_schema().load(data)
        handler.update(session, actor, row, loaded)
    team_id = now.get("team_id")
    center_id = now.get("center_id")
    if team_id is None or center_id is None:  # registry entries carry neither: their resident does
        res = session.get(Resident, getattr(row, "resident_id", None)) if hasattr(row, "resident_id") else None
        team_id = team_id if res is None else res.team_id
        center_id = center_id if res is None else res.center_id
    for name, c in conflicts.items():
        session.add(SyncConflict(entity=ent.name, entity_id=rec["entity_id"], field=name, kept_value=c["current"],
                                 losing_value=c["yours"], base_value=c["base"], change_id=rec["change_id"],
                                 device_id=body["device_id"], user_id=actor.user_id, team_id=team_id,
                                 center_id=center_id, device_time=_device_time(rec.get("device_time")),
                                 received_at=received))
    out = {"status": "conflict" if conflicts else "applied", "applied": sorted(winning)}
    if conflicts:
        out["conflicts"] = conflicts
    return out


def _same(a, b) -> bool:
    return a == b
