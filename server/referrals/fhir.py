"""The referrals as FHIR R4 resources for hospital systems: ServiceRequest + Task (Clinical Order Workflow).

The ServiceRequest is the order (the upward form: who, why, how urgent, to which department or specialist,
the attached lab reports as DiagnosticReport references); the Task tracks its fulfilment, and its status is
the case's state seen through FHIR's task state machine:

    requested -> requested      info_requested -> on-hold     accepted -> accepted     declined -> rejected
    answered -> in-progress     returned, closed -> completed     cancelled -> cancelled

(businessStatus carries the exact state). A hospital moves a Task by PUT with the Task as it wants it:
accepted (accept), rejected (decline; statusReason.text is the reason), completed (the return form as
Task.output; from accepted the answer is given first: admit with an inpatient record number, else advice).
Each goes through gpcore's state machine by services.act, acting for the specialist the Task's owner names
(Practitioner/<user id>, one of the feed's hospital; none: the case's own addressee or owner), with
If-Match (W/"<version>" or the API's ETag) and the same 409/412/428 answers.

Validated with fhir.resources.R4B (FHIR 4.3, the R4 line; fhir.resources 8 has no 4.0.1 package and its top
level is R5: see server/labs/messages/fhir.py): both what we send and what we are sent. Pydantic does not
check required code bindings, so the Task status is checked here.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.servicerequest import ServiceRequest
from fhir.resources.R4B.task import Task
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from gpcore import referral as rules

from ..audit import services as audit
from ..auth.models import User
from ..errors import Invalid, field_error
from ..households.models import Resident
from ..org.models import Center, Hospital
from ..scope import Actor, addressable_specialist, hospital_referrals, require_hospital_referral
from . import services
from .models import Referral

SYSTEM = "https://gp-outreach.cn/fhir"
STATE_SYSTEM = f"{SYSTEM}/CodeSystem/referral-state"
RETURN_FORM_SYSTEM = f"{SYSTEM}/CodeSystem/return-form"
REFERRAL_ID_SYSTEM = f"{SYSTEM}/referral-id"
RECORD_NUMBER_SYSTEM = f"{SYSTEM}/health-record-number"
RESIDENT_ID_SYSTEM = "urn:oid:2.16.156.10011.1.5.1"  # 中华人民共和国居民身份证号码 (WS 364 identifier type)
TASK_STATUS = {"requested": "requested", "info_requested": "on-hold", "accepted": "accepted",
               "declined": "rejected", "answered": "in-progress", "returned": "completed", "closed": "completed",
               "cancelled": "cancelled"}
REQUEST_STATUS = {"requested": "active", "info_requested": "on-hold", "accepted": "active", "answered": "active",
                  "returned": "completed", "closed": "completed", "declined": "revoked", "cancelled": "revoked"}
PRIORITY = {"routine": "routine", "urgent": "urgent", "emergency": "stat"}
GENDER = {"1": "male", "2": "female", "0": "unknown", "9": "unknown"}
# FHIR's Task statuses (the required binding), and the ones a hospital may set.
TASK_STATUSES = ("draft", "requested", "received", "accepted", "rejected", "ready", "cancelled", "in-progress",
                 "on-hold", "failed", "completed", "entered-in-error")
SETTABLE = ("accepted", "rejected", "completed")


def _feed_actor(feed) -> Actor:
    return Actor(None, f"lab-feed:{feed.name}"[:60], "lab_feed")  # type: ignore[arg-type]


def _instant(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z") if value else None


def _text(*parts: str | None) -> str:
    return "；".join(p for p in parts if p)


def _patient(res: Resident) -> dict:
    identifiers = [{"system": RECORD_NUMBER_SYSTEM, "value": res.record_number}]
    if res.id_number:  # as on the paper upward form: the hospital registers the patient by it
        identifiers.insert(0, {"system": RESIDENT_ID_SYSTEM, "value": res.id_number})
    patient = {"resourceType": "Patient", "id": "patient", "identifier": identifiers,
               "name": [{"text": res.name}], "gender": GENDER.get(res.sex, "unknown"),
               "birthDate": res.birth_date.isoformat()}
    phone = res.phone or res.household.phone
    if phone:
        patient["telecom"] = [{"system": "phone", "value": phone}]
    if res.household.address:
        patient["address"] = [{"text": res.household.address}]
    return patient


def service_request(session: Session, row: Referral) -> dict:
    """The case's order as an R4 ServiceRequest (validated)."""
    res = session.get(Resident, row.resident_id)
    form = row.form or {}
    resource: dict[str, Any] = {
        "resourceType": "ServiceRequest", "id": row.id, "meta": {"versionId": str(row.version),
                                                                 "lastUpdated": _instant(row.updated_at)},
        "contained": [_patient(res)],
        "identifier": [{"system": REFERRAL_ID_SYSTEM, "value": row.id}],
        "status": REQUEST_STATUS[row.state], "intent": "order", "priority": PRIORITY[row.urgency],
        "category": [{"coding": [{"system": "http://snomed.info/sct", "code": "3457005",
                                  "display": "Patient referral"}]}],
        "code": {"coding": [{"system": f"{SYSTEM}/CodeSystem/referral-kind", "code": row.kind,
                             "display": rules.KINDS[row.kind]}], "text": rules.KINDS[row.kind]},
        "subject": {"reference": "#patient", "display": res.name},
        "authoredOn": _instant(row.created_at),
        "requester": {"display": _text(form.get("referring_doctor"), form.get("institution"))},
        "performerType": {"text": f"{form.get('to_institution', '')} {row.department}".strip()},
        "reasonCode": [{"text": form["initial_impression"]}] if form.get("initial_impression") else [],
        "note": [{"text": f"{label}：{form[key]}"} for key, label in (
            ("present_illness", "主要现病史（转出原因）"), ("past_history", "主要既往史"), ("treatment", "治疗经过"))
            if form.get(key)],
        "supportingInfo": [{"reference": f"DiagnosticReport/{i}"} for i in row.lab_report_ids or []],
    }
    if row.specialist_id is not None:
        resource["performer"] = [{"reference": f"Practitioner/{row.specialist_id}",
                                  "display": form.get("receiving_doctor") or None}]
    return _valid(ServiceRequest, _prune(resource))


def task(session: Session, row: Referral) -> dict:
    """The case's fulfilment as an R4 Task (validated)."""
    resource: dict[str, Any] = {
        "resourceType": "Task", "id": row.id, "meta": {"versionId": str(row.version),
                                                       "lastUpdated": _instant(row.updated_at)},
        "identifier": [{"system": REFERRAL_ID_SYSTEM, "value": row.id}],
        "basedOn": [{"reference": f"ServiceRequest/{row.id}"}], "focus": {"reference": f"ServiceRequest/{row.id}"},
        "status": TASK_STATUS[row.state],
        "businessStatus": {"coding": [{"system": STATE_SYSTEM, "code": row.state,
                                       "display": rules.STATE_LABELS[row.state]}], "text": rules.STATE_LABELS[row.state]},
        "intent": "order", "priority": PRIORITY[row.urgency],
        "authoredOn": _instant(row.created_at), "lastModified": _instant(row.updated_at),
        "requester": {"display": _text((row.form or {}).get("referring_doctor"), (row.form or {}).get("institution"))},
        "restriction": {"period": {"end": row.response_due.isoformat()}},
    }
    if row.owner_id is not None:
        resource["owner"] = {"reference": f"Practitioner/{row.owner_id}"}
    if row.return_form:
        resource["output"] = [_output(key, value) for key, value in row.return_form.items() if value not in (None, "")]
    return _valid(Task, _prune(resource))


def _output(key: str, value) -> dict:
    label = rules.RETURN_FORM.get(key, (None, key))[1]
    out = {"type": {"coding": [{"system": RETURN_FORM_SYSTEM, "code": key, "display": label}], "text": label}}
    if key == "return_date":
        out["valueDate"] = str(value)
    else:
        out["valueString"] = str(value)
    return out


def _prune(value):
    """Drop empty lists, dicts and None (FHIR allows no empty elements)."""
    if isinstance(value, dict):
        pruned = {k: _prune(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v not in (None, "", [], {})}
    if isinstance(value, list):
        return [v for v in (_prune(v) for v in value) if v not in (None, "", [], {})]
    return value


def _path(loc: tuple) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".") or "$"


def _valid(model, resource: dict) -> dict:
    """The resource, after fhir.resources' R4B model accepted it (what we send must be valid FHIR)."""
    model.model_validate(resource)
    return resource


# --- reading ----------------------------------------------------------------------------------------

def read(session: Session, feed, referral_id: str, kind: str) -> tuple[Referral, dict]:
    """A case addressed to the feed's hospital, as a ServiceRequest or a Task (the read is logged)."""
    row = require_hospital_referral(feed.hospital_id, session.get(Referral, referral_id))
    audit.record(session, _feed_actor(feed), "read", f"fhir_{kind.lower()}", row.id, row.resident_id)
    return row, (service_request if kind == "ServiceRequest" else task)(session, row)


def search_tasks(session: Session, feed, status: str | None, count: int, base_url: str) -> dict:
    """A searchset Bundle of the hospital's Tasks (status: a FHIR Task status), newest change first."""
    stmt = select(Referral).where(hospital_referrals(feed.hospital_id, Referral))
    if status:
        states = [s for s, t in TASK_STATUS.items() if t == status]
        stmt = stmt.where(Referral.state.in_(states))
    rows = session.scalars(stmt.order_by(Referral.updated_at.desc(), Referral.id).limit(count)).all()
    audit.record(session, _feed_actor(feed), "list", "fhir_task", None, detail={"shown": [r.id for r in rows]})
    bundle = {"resourceType": "Bundle", "type": "searchset", "total": len(rows),
              "entry": [{"fullUrl": f"{base_url}Task/{r.id}", "resource": task(session, r),
                         "search": {"mode": "match"}} for r in rows]}
    Bundle.model_validate(bundle)
    return bundle


# --- a hospital moves a Task -------------------------------------------------------------------------

def _invalid_fhir(errors: list[tuple[str, str]]) -> Invalid:
    return Invalid("Not an acceptable R4 Task: " + "; ".join(f"{p}: {m}" for p, m in errors[:5]),
                   {p: [m] for p, m in errors}, zh="不是有效的 FHIR R4 Task：" + "；".join(p for p, _ in errors[:5]))


def parse_task(body: Any, referral_id: str) -> Task:
    """The hospital's Task, validated by fhir.resources (R4B) and by the status binding; 422 naming the path."""
    if not isinstance(body, dict) or body.get("resourceType") != "Task":
        raise _invalid_fhir([("resourceType", "must be Task")])
    try:
        resource = Task.model_validate(body)
    except ValidationError as err:
        raise _invalid_fhir([(_path(e["loc"]), e["msg"]) for e in err.errors()]) from None
    if resource.id not in (None, referral_id):
        raise _invalid_fhir([("id", f"must be {referral_id}, the Task's id in the URL")])
    if resource.status not in TASK_STATUSES:
        raise _invalid_fhir([("status", f"not a FHIR Task status: {resource.status!r}")])
    return resource


def _specialist(session: Session, feed, row: Referral, resource: Task) -> Actor:
    """The specialist the hospital acts for: Task.owner (one of its own), else the case's owner or addressee."""
    ref = resource.owner.reference if resource.owner is not None and resource.owner.reference else None
    user_id = row.owner_id or row.specialist_id
    if ref is not None:
        kind, _, ident = str(ref).partition("/")
        if kind != "Practitioner" or not ident.isdigit():
            raise field_error("owner", "must reference Practitioner/<specialist id>", "owner 须为 Practitioner/<专科医生编号>。")
        user_id = int(ident)
    user = session.get(User, user_id) if user_id is not None else None
    if not addressable_specialist(user) or user.hospital_id != feed.hospital_id:
        raise field_error("owner", "name a specialist of your hospital (Task.owner: Practitioner/<id>)",
                          "请在 Task.owner 中指定本院的专科医生。")
    return Actor.of(user)


def _return_form(resource: Task) -> dict:
    form = {}
    for out in resource.output or []:
        codes = [c.code for c in (out.type.coding or []) if c.system == RETURN_FORM_SYSTEM] if out.type else []
        key = codes[0] if codes else (out.type.text if out.type else None)
        if key in rules.RETURN_FORM:
            value = out.valueDate or out.valueString
            form[key] = value.isoformat() if isinstance(value, dt.date) else value
    return form


def _if_match(row: Referral, if_match: str | None) -> str | None:
    """The API's ETag for a FHIR version tag (W/"3"); other values pass through unchanged."""
    if if_match and if_match.strip().startswith('W/"') and if_match.strip()[3:-1].isdigit():
        return f'"{row.id}-v{if_match.strip()[3:-1]}"'
    return if_match


def update_task(session: Session, feed, referral_id: str, body: Any, if_match: str | None,
                today: dt.date) -> tuple[Referral, dict]:
    """Move a case by the Task the hospital sent (accepted, rejected, completed), through services.act."""
    row = require_hospital_referral(feed.hospital_id, session.get(Referral, referral_id))
    resource = parse_task(body, row.id)
    wanted = resource.status
    services.require_if_match(if_match)
    if wanted == TASK_STATUS[row.state]:  # already so: nothing to do (a repeat of the same PUT)
        services.check_fresh(row, _if_match(row, if_match))
        return row, task(session, row)
    if wanted not in SETTABLE:
        raise field_error("status", f"a hospital sets accepted, rejected or completed (not {wanted})",
                          "医院只能将 Task 置为 accepted、rejected 或 completed。")
    actor = _specialist(session, feed, row, resource)
    tag = _if_match(row, if_match)
    via = f"经{feed.name}（医院系统）"
    if wanted == "accepted":
        services.act(session, actor, row.id, "accept", {"note": via}, tag, today)
    elif wanted == "rejected":
        reason = (resource.statusReason.text if resource.statusReason is not None else None) or ""
        if not reason.strip():
            raise field_error("statusReason", "a rejected Task needs statusReason.text (the reason)",
                              "拒绝须在 statusReason.text 中说明理由。")
        services.act(session, actor, row.id, "decline", {"reason": reason}, tag, today)
    else:
        form = _return_form(resource)
        may = {"answer", "return_case"} & set(services.allowed_actions(actor, row))  # else act() says 409/403
        if may and (problems := rules.check_return_form(form, today=today)):  # before the answer it comes with
            errors = rules.errors_by_field(problems, "zh")
            raise Invalid("The return form (Task.output) is incomplete: " + ", ".join(errors), errors)
        if row.state == "accepted":  # the answer comes with the return form
            answer = {"outcome": "admit" if form.get("inpatient_record_number") else "advice",
                      "advice": form.get("diagnosis") or "", "plan": form.get("plan") or ""}
            services.act(session, actor, row.id, "answer", answer, tag, today)
            tag = "*"  # the same request goes on from the state it just made
        services.act(session, actor, row.id, "return_case", {"form": form}, tag, today)
    audit.record(session, _feed_actor(feed), "update", "fhir_task", row.id, row.resident_id,
                 detail={"status": wanted, "for_user": actor.user_id})
    return row, task(session, row)


# --- errors as FHIR clients read them -------------------------------------------------------------------
# A FHIR client reads an error as an OperationOutcome (FHIR R4 http.html: "a server SHOULD return an
# OperationOutcome"), not as our {code, status, message, errors}: the same content, one issue per field
# named (issue.expression a FHIRPath into the Task; HTTP headers and search parameters as location
# "http.<name>", as R4 says), the current state of a case as issue.details.coding for 409 and 412.

ISSUE_CODES = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported",
               406: "not-supported", 409: "conflict", 412: "conflict", 413: "too-costly", 415: "not-supported",
               422: "invalid", 428: "required", 429: "throttled"}
HTTP_NAMES = ("If-Match", "X-Lab-Feed-Key", "Content-Type", "Authorization")
REQUEST_LOCATIONS = ("query", "headers", "json", "form", "files")
NOT_FIELDS = ("state", "action", "authorization", "authentication", "body")
# What the services call a field the hospital gave in another element of the Task (services.act's details).
TASK_ELEMENTS = {"reason": "Task.statusReason.text", "advice": "Task.output.where(type.coding.code = 'diagnosis')",
                 "outcome": "Task.output.where(type.coding.code = 'inpatient_record_number')"}


def _messages(value) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [str(value)]


def _fields(errors: dict, prefix: tuple = ()):
    """(path as a tuple, messages) of an `errors` dict, nested ones (webargs' {"query": {"status": [...]}})
    flattened."""
    for key, value in errors.items():
        if isinstance(value, dict):
            yield from _fields(value, (*prefix, str(key)))
        else:
            yield (*prefix, str(key)), _messages(value)


def _where(path: tuple) -> dict:
    """Where an issue is: a FHIRPath into the Task for its elements, http.<name> for a header or a search
    parameter, nothing for the body as a whole."""
    if path[0] in REQUEST_LOCATIONS and len(path) > 1:
        return {"location": [f"http.{'.'.join(path[1:])}"]} if path[0] in ("query", "headers") else \
            {"expression": [f"Task.{'.'.join(path[1:])}"]}
    name = path[0]
    if name in HTTP_NAMES:
        return {"location": [f"http.{name}"]}
    if name in TASK_ELEMENTS:
        return {"expression": [TASK_ELEMENTS[name]]}
    if name in rules.RETURN_FORM:  # a box of the return form, sent as one Task.output
        return {"expression": [f"Task.output.where(type.coding.code = '{name}')"]}
    return {"expression": [name if name == "resourceType" else f"Task.{'.'.join(path)}"]}


def operation_outcome(status: int, body: dict) -> dict:
    """An error in our shape ({code, status, message, errors}) as an R4 OperationOutcome (validated)."""
    message = str(body.get("message") or body.get("status") or status)
    severity = "fatal" if status >= 500 else "error"
    code = ISSUE_CODES.get(status, "exception" if status >= 500 else "processing")
    errors = body.get("errors") if isinstance(body.get("errors"), dict) else {}
    details: dict[str, Any] = {"text": message}
    state = _messages(errors["state"])[0] if errors.get("state") else None
    if state in rules.STATE_LABELS:
        details["coding"] = [{"system": STATE_SYSTEM, "code": state, "display": rules.STATE_LABELS[state]}]
    issues = []
    if status in (400, 422):
        for path, messages in _fields(errors):
            if path[0] in NOT_FIELDS:
                continue
            issues.append({"severity": severity, "code": code, "details": details,
                           "diagnostics": f"{'.'.join(path)}: {'；'.join(messages)}", **_where(path)})
    if not issues:
        issue = {"severity": severity, "code": code, "details": details, "diagnostics": message}
        headers = [f"http.{name}" for name in errors if name in HTTP_NAMES]
        if headers:
            issue["location"] = headers
        if status in (409, 412) and state:
            issue["expression"] = ["Task.status"]  # the status asked for does not fit the case's state
        issues = [issue]
    return _valid(OperationOutcome, {"resourceType": "OperationOutcome", "issue": issues})
