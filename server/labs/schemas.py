"""Shapes of lab feeds, the unmatched queue, refused messages and lab reports on the wire."""
import base64

import marshmallow as ma

from gpcore.clock import china_date
from gpcore.health_file import age_on
from printing import sex_label

from ..api import Schema
from .matching import reason_text
from .models import call_due, current_results, history_of

V = ma.validate
Number = ma.fields.Decimal(as_string=True, allow_none=True, metadata={"description": "exact decimal as text"})


def comments_field(what: str) -> ma.fields.List:
    """The lab's remarks as a list of texts ([] when none); `what` says whose."""
    return ma.fields.List(ma.fields.String(), metadata={"description": f"the lab's remarks on {what} (HL7 NTE, "
                                                                        "FHIR note/conclusion), in arrival order"})


class LabFeedCreateSchema(Schema):
    hospital_id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True, validate=V.Length(min=2, max=100),
                            metadata={"description": "e.g. the interface engine's name"})
    center_ids = ma.fields.List(ma.fields.Integer(), required=True, validate=V.Length(min=1),
                                metadata={"description": "centers whose staff resolve this feed's unmatched "
                                                         "messages"})


class LabFeedSchema(Schema):
    id = ma.fields.Integer()
    hospital_id = ma.fields.Integer()
    name = ma.fields.String()
    key_hint = ma.fields.String(metadata={"description": "first characters of the key, to tell keys apart"})
    center_ids = ma.fields.Function(lambda f: [c.id for c in f.centers])
    created_at = ma.fields.DateTime()
    revoked_at = ma.fields.DateTime(allow_none=True)


class LabFeedCreatedSchema(LabFeedSchema):
    key = ma.fields.String(metadata={"description": "send as header X-Lab-Feed-Key; shown only this once"})


class LabFHIRReceiptSchema(Schema):
    message_id = ma.fields.String()
    duplicate = ma.fields.Boolean(metadata={"description": "true when this bundle was received before"})
    match_status = ma.fields.String(metadata={"description": "matched | unmatched (queued for center staff)"})
    report_ids = ma.fields.List(ma.fields.String())


class LabHistoryRowSchema(Schema):
    """An earlier value a later row replaced (kept, never overwritten)."""

    id = ma.fields.Integer()
    value_text = ma.fields.String()
    value_num = Number
    unit = ma.fields.String()
    flags = ma.fields.List(ma.fields.String())
    status = ma.fields.String()
    observed_at = ma.fields.DateTime(allow_none=True)
    received_at = ma.fields.DateTime()
    superseded_at = ma.fields.DateTime(allow_none=True)
    # An earlier value keeps its own remarks: the haemolysis note belongs to the value it explains.
    comments = comments_field("this value, e.g. 标本溶血，结果仅供参考")


class LabResultSchema(LabHistoryRowSchema):
    code = ma.fields.String()
    name = ma.fields.String()
    coding_system = ma.fields.String()
    value_type = ma.fields.String()
    value_code = ma.fields.String()
    comparator = ma.fields.String()
    range_text = ma.fields.String()
    range_low = Number
    range_high = Number
    range_by_sex = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String())
    critical = ma.fields.Boolean()
    abnormal = ma.fields.Boolean()
    observer = ma.fields.String()
    history = ma.fields.List(ma.fields.Nested(LabHistoryRowSchema), metadata={"description": "newest first"})


class LabQueueReportSchema(Schema):
    """A report as the hospital sent it, for staff deciding who it belongs to."""

    id = ma.fields.String()
    filler_no = ma.fields.String(allow_none=True)
    panel_name = ma.fields.String()
    specimen_type = ma.fields.String()
    reported_at = ma.fields.DateTime(allow_none=True)
    critical = ma.fields.Boolean()
    comments = comments_field("the whole report")
    results = ma.fields.Method("_results", metadata={
        "description": "code, name, value_text, unit, flags, critical, comments, current, message_id (the "
                       "message it came in)"})

    def _results(self, rep):
        return [{"code": r.code, "name": r.name, "value_text": r.value_text, "unit": r.unit,
                 "flags": r.flags, "critical": r.critical, "comments": list(r.comments or []),
                 "current": r.superseded_by_id is None,
                 "message_id": r.message_id}
                for r in rep.results]


class LabSuggestedResidentSchema(Schema):
    """The resident suggested for a queued message: name, birth date and sex agree, no ID number confirms."""

    id = ma.fields.String()
    name = ma.fields.String()
    sex = ma.fields.String(metadata={"description": "GB/T 2261.1: 1 male, 2 female"})
    birth_date = ma.fields.Date()
    id_number = ma.fields.String(allow_none=True)
    record_number = ma.fields.String()
    team_id = ma.fields.Integer(allow_none=True)
    status = ma.fields.String()


class LabQueueItemSchema(Schema):
    id = ma.fields.String()
    hospital_id = ma.fields.Integer()
    hospital_name = ma.fields.Function(lambda m: m.hospital.name)
    format = ma.fields.String()
    sending_facility = ma.fields.String()
    control_id = ma.fields.String()
    received_at = ma.fields.DateTime()
    patient_name = ma.fields.String()
    patient_name_alphabetic = ma.fields.String()
    patient_sex = ma.fields.String()
    patient_birth_date = ma.fields.Date(allow_none=True)
    patient_id_number = ma.fields.String(allow_none=True)
    patient_identifiers = ma.fields.List(ma.fields.Dict())
    match_status = ma.fields.String()
    match_reason = ma.fields.String(allow_none=True)
    match_reason_text = ma.fields.Function(lambda m: reason_text(m.match_reason))
    match_note = ma.fields.String(allow_none=True)
    resident_id = ma.fields.String(allow_none=True)
    dismiss_reason = ma.fields.String(allow_none=True)
    critical = ma.fields.Function(lambda m: any(r.critical for r in m.reports))
    report_count = ma.fields.Function(lambda m: len(m.reports))


class LabSamePatientSchema(LabQueueItemSchema):
    """Another queued message about the same patient, offered when one is filed."""

    same_on = ma.fields.List(ma.fields.String(), metadata={
        "description": "what ties it: id_number, hospital_patient_id (same hospital), name_birth_sex"})


class LabQueueDetailSchema(LabQueueItemSchema):
    warnings = ma.fields.List(ma.fields.String())
    encoding = ma.fields.String()
    encoding_reason = ma.fields.String()
    reports = ma.fields.List(ma.fields.Nested(LabQueueReportSchema), metadata={
        "description": "each with the rows this message brought"})
    suggested_resident = ma.fields.Method("_suggested", metadata={
        "description": "LabSuggestedResidentSchema or null: for a message queued as name_birth_sex_candidate "
                       "(or then as order_conflict), "
                       "the one resident of your scope with the message's name, birth date and sex; "
                       "confirm by matching with its id"})
    same_patient = ma.fields.Method("_same_patient", metadata={
        "description": "other unmatched messages of the same patient (LabSamePatientSchema), oldest first; "
                       "file them with this one by listing their ids in `also` when matching"})

    @ma.post_dump
    def _own_rows_only(self, data, **kwargs):
        # A report (one order) may also hold rows other messages brought, e.g. of a patient the order number
        # was filed for before, whom the staff reading this message may not see: show this message's only.
        for rep in data.get("reports", ()):
            rep["results"] = [r for r in rep["results"] if r["message_id"] == data["id"]]
        return data

    def _suggested(self, msg):
        res = getattr(msg, "suggested_resident", None)
        return LabSuggestedResidentSchema().dump(res) if res is not None else None

    def _same_patient(self, msg):
        out = []
        for other, keys in getattr(msg, "same_patient", []):
            data = LabSamePatientSchema(exclude=("same_on",)).dump(other)
            data["same_on"] = keys
            out.append(data)
        return out


class LabQueueArgs(Schema):
    status = ma.fields.String(load_default="unmatched", validate=V.OneOf(["unmatched", "dismissed"]))
    order = ma.fields.String(load_default="oldest", validate=V.OneOf(["oldest", "newest"]), metadata={
        "description": "by arrival: oldest first (work the queue in turn) or newest first"})
    page = ma.fields.Integer(load_default=1, validate=V.Range(min=1))
    page_size = ma.fields.Integer(load_default=50, validate=V.Range(min=1, max=500))


class LabMatchSchema(Schema):
    resident_id = ma.fields.String(required=True, validate=V.Length(min=1, max=36))
    also = ma.fields.List(ma.fields.String(validate=V.Length(min=1, max=36)), load_default=list,
                          validate=V.Length(max=200), metadata={
                              "description": "ids of other queued messages of the same patient (the detail's "
                                             "same_patient) to file under the same resident"})


class LabDismissSchema(Schema):
    reason = ma.fields.String(required=True, validate=V.Length(min=2, max=200))


class LabReportRowSchema(Schema):
    """One line of a report list."""

    id = ma.fields.String()
    resident_id = ma.fields.String()
    resident_name = ma.fields.String()
    team_id = ma.fields.Integer(allow_none=True)
    hospital_name = ma.fields.String()
    filler_no = ma.fields.String(allow_none=True)
    panel_code = ma.fields.String()
    panel_name = ma.fields.String()
    specimen_type = ma.fields.String()
    status = ma.fields.String()
    reported_at = ma.fields.DateTime(allow_none=True)
    changed_at = ma.fields.DateTime()
    critical = ma.fields.Boolean()
    abnormal = ma.fields.Boolean()
    comments = comments_field("the whole report")
    seen_at = ma.fields.DateTime(allow_none=True)
    new = ma.fields.Function(lambda r: r["seen_at"] is None or r["seen_at"] < r["changed_at"], metadata={
        "description": "the resident's team has not seen it since results last arrived"})
    last_visit_date = ma.fields.Date(allow_none=True, metadata={
        "description": "the resident's latest follow-up visit (any condition); null: none"})
    new_since_visit = ma.fields.Boolean(metadata={
        "description": "results arrived on or after the last visit's day (or there was no visit)"})


class LabReportListArgs(Schema):
    new = ma.fields.Boolean(load_default=False, metadata={
        "description": "only reports the resident's team has not seen since results last arrived"})
    since_visit = ma.fields.Boolean(load_default=False, metadata={
        "description": "only reports new since the resident's last follow-up visit"})
    critical = ma.fields.Boolean(load_default=False)
    team_id = ma.fields.Integer()
    page = ma.fields.Integer(load_default=1, validate=V.Range(min=1))
    page_size = ma.fields.Integer(load_default=50, validate=V.Range(min=1, max=500))


class LabPagingArgs(Schema):
    since_visit = ma.fields.Boolean(load_default=False, metadata={
        "description": "only reports new since the resident's last follow-up visit, critical values first"})
    page = ma.fields.Integer(load_default=1, validate=V.Range(min=1))
    page_size = ma.fields.Integer(load_default=50, validate=V.Range(min=1, max=500))


class LabPatientSchema(Schema):
    """Who the report is for, from the resident's health file (section 6: name, sex, age, record number)."""

    resident_id = ma.fields.String()
    name = ma.fields.String()
    sex = ma.fields.String(metadata={"description": "GB/T 2261.1: 1 male, 2 female"})
    sex_label = ma.fields.String()
    age = ma.fields.Integer(metadata={"description": "whole years on the report date"})
    birth_date = ma.fields.Date()
    record_number = ma.fields.String()


class LabCriticalCallSchema(Schema):
    """The team phoned the critical values through (to the patient or family): when, who, what was said."""

    called_at = ma.fields.DateTime(load_default=None, metadata={
        "description": "when the call was made (default: now); without an offset, China Standard Time"})
    report_changed_at = ma.fields.AwareDateTime(required=True, load_only=True, metadata={
        "description": "the report's changed_at as you read it, sent back exactly as received: the values "
                       "you phoned through (a correction that arrived since answers 409)"})
    note = ma.fields.String(required=True, validate=[V.Length(min=1, max=200), V.Regexp(r"[\s\S]*\S",
                            error="Say what was said on the call.")], metadata={
        "description": "e.g. 已电话通知患者本人，嘱今日到医院急诊复查"})
    noted_at = ma.fields.DateTime(dump_only=True)
    by_user_id = ma.fields.Integer(dump_only=True)
    by_name = ma.fields.String(dump_only=True, allow_none=True)


class LabReportSchema(Schema):
    """Everything a printed lab report (检验报告单) needs, plus each value's history."""

    id = ma.fields.String()
    resident_id = ma.fields.String()
    patient = ma.fields.Method("_patient", metadata={"description": "LabPatientSchema"})
    hospital_name = ma.fields.Function(lambda r: r.hospital.name)
    filler_no = ma.fields.String(allow_none=True)
    placer_no = ma.fields.String()
    panel_code = ma.fields.String()
    panel_name = ma.fields.String()
    specimen_type = ma.fields.String()
    collected_at = ma.fields.DateTime(allow_none=True)
    specimen_received_at = ma.fields.DateTime(allow_none=True)
    reported_at = ma.fields.DateTime(allow_none=True)
    status = ma.fields.String()
    tester = ma.fields.String()
    reviewer = ma.fields.String()
    critical = ma.fields.Boolean()
    abnormal = ma.fields.Boolean()
    comments = comments_field("the whole report (each result's own are on its row)")
    changed_at = ma.fields.DateTime()
    seen_at = ma.fields.DateTime(allow_none=True)
    critical_call = ma.fields.Method("_critical_call", metadata={
        "description": "LabCriticalCallSchema or null: the team's note of phoning the critical values through"})
    critical_call_due = ma.fields.Method("_call_due", metadata={
        "description": "true: a critical value nobody has noted phoning through since the report last changed"})
    results = ma.fields.Method("_results", metadata={"description": "current rows, each with its history"})

    def _critical_call(self, rep):
        if rep.critical_call_at is None:
            return None
        return LabCriticalCallSchema().dump({
            "called_at": rep.critical_call_at, "noted_at": rep.critical_call_noted_at,
            "note": rep.critical_call_note, "by_user_id": rep.critical_call_by,
            "by_name": rep.critical_caller.full_name if rep.critical_caller else None})

    def _call_due(self, rep):
        return call_due(rep)

    def _patient(self, rep):
        res = rep.resident
        day = china_date(rep.reported_at or rep.changed_at)
        return LabPatientSchema().dump({
            "resident_id": res.id, "name": res.name, "sex": res.sex, "sex_label": sex_label(res.sex),
            "age": age_on(res.birth_date, day), "birth_date": res.birth_date,
            "record_number": res.record_number})

    def _results(self, rep):
        out = []
        for row in current_results(rep):
            data = LabResultSchema(exclude=("history",)).dump(row)
            data["history"] = LabHistoryRowSchema(many=True).dump(history_of(rep, row))
            out.append(data)
        return out


class LabSeenSchema(Schema):
    report_id = ma.fields.String()
    team_id = ma.fields.Integer()
    seen_by = ma.fields.Integer()
    seen_at = ma.fields.DateTime()


class LabRejectionSchema(Schema):
    """A message a feed sent that was refused (kept with its bytes; nothing from a hospital is lost)."""

    id = ma.fields.String()
    feed_id = ma.fields.Integer()
    hospital_id = ma.fields.Integer()
    hospital_name = ma.fields.Function(lambda r: r.hospital.name)
    format = ma.fields.String(metadata={"description": "hl7v2 | fhir"})
    transport = ma.fields.String(metadata={"description": "http | mllp"})
    received_at = ma.fields.DateTime()
    sending_facility = ma.fields.String()
    control_id = ma.fields.String(allow_none=True)
    ack_code = ma.fields.String(metadata={"description": "AR or AE as answered (FHIR: AR, HTTP 422)"})
    error_code = ma.fields.String(metadata={"description": "HL7 table 0357 (207: could not be stored)"})
    reason = ma.fields.String()
    storage_failed = ma.fields.Boolean(metadata={
        "description": "the message was acceptable but could not be stored then; the sender was asked to resend"})
    size = ma.fields.Integer(metadata={"description": "bytes received"})


class LabRejectionDetailSchema(LabRejectionSchema):
    encoding = ma.fields.String(allow_none=True, metadata={"description": "charset the header was read with"})
    raw_base64 = ma.fields.Function(lambda r: base64.b64encode(r.raw).decode("ascii"),
                                    metadata={"description": "the bytes exactly as received"})
    raw_text = ma.fields.Function(lambda r: _as_text(r.raw, r.encoding), metadata={
        "description": "the bytes decoded for reading (undecodable bytes replaced); raw_base64 is the record"})
    ack_text = ma.fields.Function(lambda r: _as_text(r.ack, r.encoding) if r.ack else None)


def _as_text(data: bytes, encoding: str | None) -> str:
    try:
        return data.decode(encoding or "utf-8", errors="replace")
    except LookupError:
        return data.decode("utf-8", errors="replace")


class LabRejectionArgs(Schema):
    feed_id = ma.fields.Integer()
    since = ma.fields.AwareDateTime(metadata={"description": "received at or after (ISO 8601 with offset)"})
    page = ma.fields.Integer(load_default=1, validate=V.Range(min=1))
    page_size = ma.fields.Integer(load_default=50, validate=V.Range(min=1, max=500))


class LabAlertSchema(Schema):
    """A resident with lab reports new since their last follow-up visit (the worklist's lab_alerts)."""

    resident_id = ma.fields.String()
    name = ma.fields.String()
    sex = ma.fields.String()
    birth_date = ma.fields.Date()
    team_id = ma.fields.Integer(allow_none=True)
    reports = ma.fields.Integer(metadata={"description": "reports new since the last visit"})
    critical = ma.fields.Integer(metadata={"description": "of which with a critical value"})
    unseen = ma.fields.Integer(metadata={"description": "of which the team has not seen since they changed"})
    calls_due = ma.fields.Integer(metadata={
        "description": "of which with a critical value nobody has noted phoning through since it changed"})
    latest_changed_at = ma.fields.DateTime()
    last_visit_date = ma.fields.Date(allow_none=True, metadata={"description": "null: no visit yet"})


class LabAlertsSchema(Schema):
    total = ma.fields.Integer(metadata={"description": "residents with new reports (items: the first 200)"})
    items = ma.fields.List(ma.fields.Nested(LabAlertSchema))
