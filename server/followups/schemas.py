"""Shapes of follow-up records, worklists and indicators on the wire. The form itself is checked by gpcore;
its OpenAPI schema is generated from gpcore's field table (forms.py)."""
import marshmallow as ma

from gpcore.followup import REFERRAL_LEVELS, VISIT_CLASSIFICATIONS, VISIT_MODES
from gpcore.followup.worklist import BUCKETS

from ..api import Schema
from ..labs.schemas import LabAlertsSchema
from ..referrals.schemas import ReferralAnswerItemSchema, ReferralOfferSchema
from .forms import AssessmentSchema, AsStored, FollowUpForm, coded
from .models import KINDS

V = ma.validate
CONDITION = {"hypertension": "高血压 (hypertension form)", "t2dm": "2型糖尿病 (type 2 diabetes form)"}


class UUIDText(ma.fields.UUID):
    """A UUID given by the client, kept as lower-case text."""

    def _deserialize(self, value, attr, data, **kwargs):
        return str(super()._deserialize(value, attr, data, **kwargs))


def _condition(**kw):
    return ma.fields.String(validate=V.OneOf(list(CONDITION)), metadata={
        "description": "; ".join(f"{k}: {v}" for k, v in CONDITION.items())}, **kw)


def _classification():
    return coded(ma.fields.Integer, VISIT_CLASSIFICATIONS, "此次随访分类 visit classification", allow_none=True)


def _referral(**kw):
    return coded(ma.fields.String, REFERRAL_LEVELS, "转诊建议 referral advice", **kw)


def _visit_mode():
    return coded(ma.fields.Integer, VISIT_MODES, "随访方式 visit mode", allow_none=True)


def _record_id():
    return UUIDText(required=True, metadata={
        "description": "UUID made by the tablet; resending the same record is safe, reusing it for "
                       "different content is a 409"})


def _recorded_at():
    return ma.fields.AwareDateTime(allow_none=True, metadata={"description": "when the tablet saved it"})


class DeviceAssessmentSchema(Schema):
    """What the tablet's run of the shared rules decided (kept, and compared with the server's)."""

    classification = _classification()
    emergency = ma.fields.Boolean()
    referral = _referral()
    next_visit_date = ma.fields.Date()
    rules_version = ma.fields.String(validate=V.Length(max=120))


class VisitCreateSchema(Schema):
    id = _record_id()
    resident_id = ma.fields.String(required=True, validate=V.Length(max=36))
    condition = _condition(required=True)
    form = FollowUpForm(required=True, metadata={
        "description": "every box of the national form: HypertensionForm when condition is hypertension, "
                       "DiabetesForm when it is t2dm"})
    recorded_at = _recorded_at()
    device_assessment = ma.fields.Nested(DeviceAssessmentSchema, allow_none=True)


class AmendmentSchema(Schema):
    id = _record_id()
    reason = ma.fields.String(required=True, validate=V.Length(min=2, max=500),
                              metadata={"description": "why the signed record is corrected"})
    form = FollowUpForm(required=True, metadata={
        "description": "the whole corrected form, of the amended record's condition"})
    recorded_at = _recorded_at()
    device_assessment = ma.fields.Nested(DeviceAssessmentSchema, allow_none=True)


class LostSchema(Schema):
    id = _record_id()
    resident_id = ma.fields.String(required=True, validate=V.Length(max=36))
    condition = _condition(required=True)
    date = ma.fields.Date(required=True)
    reason = ma.fields.String(required=True, validate=V.Length(min=2, max=200))
    recorded_at = _recorded_at()


class DeathSchema(Schema):
    id = _record_id()
    resident_id = ma.fields.String(required=True, validate=V.Length(max=36))
    condition = _condition(required=True)
    date = ma.fields.Date(required=True)
    cause = ma.fields.String(required=True, validate=V.Length(min=2, max=200))
    recorded_at = _recorded_at()


class FollowUpSchema(Schema):
    """A signed record: the form, the server's assessment, what the tablet said, and the chain."""

    id = ma.fields.String()
    resident_id = ma.fields.String()
    condition = ma.fields.String()
    kind = ma.fields.String()
    original_id = ma.fields.String()
    revision = ma.fields.Integer()
    amends_id = ma.fields.String(allow_none=True)
    amendment_reason = ma.fields.String(allow_none=True)
    superseded_by = ma.fields.String(allow_none=True, metadata={"description": "the amendment replacing it"})
    effective = ma.fields.Boolean(metadata={"description": "not amended: this is the record that counts"})
    visit_date = ma.fields.Date()
    visit_mode = _visit_mode()
    sbp = ma.fields.Integer(allow_none=True)
    dbp = ma.fields.Integer(allow_none=True)
    fpg_mmol = ma.fields.Float(allow_none=True)
    classification = _classification()
    bp_controlled = ma.fields.Boolean(allow_none=True)
    fpg_controlled = ma.fields.Boolean(allow_none=True)
    emergency = ma.fields.Boolean()
    referral = _referral(allow_none=True)
    referred = ma.fields.Boolean()
    next_visit_date = ma.fields.Date(allow_none=True)
    rules_next_visit_date = ma.fields.Date(allow_none=True)
    rules_version = ma.fields.String(allow_none=True)
    missing_fields = ma.fields.List(ma.fields.String())
    form = FollowUpForm(metadata={"description": "the form as signed (HypertensionForm or DiabetesForm)"})
    assessment = AsStored(AssessmentSchema, allow_none=True, metadata={
        "description": "the server's run of the shared rules, as stored with the record"})
    device_assessment = AsStored(DeviceAssessmentSchema, allow_none=True, metadata={
        "description": "what the tablet's run of the rules decided, as it sent it"})
    disagreement = ma.fields.List(ma.fields.String(), metadata={
        "description": "decisions where the tablet (device.*) or the form's box (form.*) differ from the server"})
    recorded_at = ma.fields.DateTime(allow_none=True)
    received_at = ma.fields.DateTime()
    signed_by = ma.fields.Integer()


class FollowUpRowSchema(Schema):
    """One line of a team's follow-up list."""

    id = ma.fields.String()
    resident_id = ma.fields.String()
    resident_name = ma.fields.String()
    team_id = ma.fields.Integer(allow_none=True)
    condition = ma.fields.String()
    kind = ma.fields.String()
    visit_date = ma.fields.Date()
    visit_mode = _visit_mode()
    sbp = ma.fields.Integer(allow_none=True)
    dbp = ma.fields.Integer(allow_none=True)
    fpg_mmol = ma.fields.Float(allow_none=True)
    classification = _classification()
    emergency = ma.fields.Boolean()
    referral = _referral(allow_none=True)
    referred = ma.fields.Boolean()
    next_visit_date = ma.fields.Date(allow_none=True)
    signed_by = ma.fields.Integer()
    revision = ma.fields.Integer()
    received_at = ma.fields.DateTime()


class _Page(Schema):
    page = ma.fields.Integer(load_default=1, validate=V.Range(min=1))
    page_size = ma.fields.Integer(load_default=50, validate=V.Range(min=1, max=500))


class _DateRange:
    @ma.validates_schema
    def _range(self, data, **_kw):
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            raise ma.ValidationError("must not be before date_from", "date_to")


class TeamListArgs(_DateRange, _Page):
    team_id = ma.fields.Integer(metadata={"description": "a team in your scope (a GP: their own)"})
    condition = _condition()
    kind = ma.fields.String(validate=V.OneOf(KINDS))
    date_from = ma.fields.Date()
    date_to = ma.fields.Date()
    member_id = ma.fields.Integer(metadata={"description": "the team member who signed the record"})


class ResidentListArgs(_Page):
    condition = _condition()
    include_superseded = ma.fields.Boolean(load_default=False,
                                           metadata={"description": "also the versions later amended"})


class WorklistArgs(_Page):
    team_id = ma.fields.Integer(metadata={"description": "default: a GP's own team; center staff: whole center"})
    member_id = ma.fields.Integer(metadata={
        "description": "the resident's responsible doctor; without one, whoever signed the latest visit"})
    condition = _condition()
    bucket = ma.fields.String(validate=V.OneOf(BUCKETS))
    page_size = ma.fields.Integer(load_default=200, validate=V.Range(min=1, max=2000))


class WorklistItemSchema(Schema):
    resident_id = ma.fields.String()
    name = ma.fields.String()
    sex = ma.fields.String()
    age = ma.fields.Integer()
    phone = ma.fields.String(allow_none=True)
    team_id = ma.fields.Integer(allow_none=True)
    committee_code = ma.fields.String()
    committee_name = ma.fields.String()
    address = ma.fields.String()
    condition = ma.fields.String()
    buckets = ma.fields.List(ma.fields.String(), metadata={"description": ", ".join(BUCKETS)})
    urgency = ma.fields.Integer(metadata={"description": "0 most urgent (emergency) .. 5 not seen this year"})
    visit_date = ma.fields.Date(allow_none=True, metadata={"description": "latest effective visit"})
    visit_mode = _visit_mode()
    classification = _classification()
    emergency = ma.fields.Boolean(allow_none=True)
    referral = _referral(allow_none=True)
    referred = ma.fields.Boolean(allow_none=True)
    next_visit_date = ma.fields.Date(allow_none=True)
    overdue_days = ma.fields.Integer(allow_none=True)
    referral_due_date = ma.fields.Date(allow_none=True)
    last_face_to_face = ma.fields.Date(allow_none=True, metadata={"description": "this year"})
    responsible_doctor_id = ma.fields.Integer(allow_none=True)
    signed_by = ma.fields.Integer(allow_none=True, metadata={"description": "who signed the latest visit"})
    referral_offer = ma.fields.Nested(ReferralOfferSchema, allow_none=True, metadata={
        "description": "the latest visit asked for a referral (an emergency, a second uncontrolled visit) and "
                       "none was sent since: the upward form comes pre-filled from `prefill`"})
    reassessed = ma.fields.Boolean(allow_none=True, metadata={
        "description": "an older visit was signed after the latest one: classification, referral and next "
                       "visit date were re-run against the visits before it by date (the record is unchanged)"})


class WorklistSchema(Schema):
    today = ma.fields.Date()
    team_id = ma.fields.Integer(allow_none=True)
    counts = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    items = ma.fields.List(ma.fields.Nested(WorklistItemSchema))
    lab_alerts = ma.fields.Nested(LabAlertsSchema, metadata={
        "description": "residents with lab reports new since their last follow-up visit, critical first "
                       "(the whole team, whatever the filters above)"})
    referral_answers = ma.fields.List(ma.fields.Nested(ReferralAnswerItemSchema), metadata={
        "description": "specialists' answers and return forms waiting for the team's follow-up (2 weeks), "
                       "earliest due first; a case leaves when the team closes it with its visit"})
    page = ma.fields.Integer()
    page_size = ma.fields.Integer()
    total = ma.fields.Integer()


class IndicatorArgs(Schema):
    year = ma.fields.Integer(required=True, validate=V.Range(min=2009, max=2100))
    quarter = ma.fields.Integer(validate=V.Range(min=1, max=4), metadata={"description": "omit for the year"})
    team_id = ma.fields.Integer()
    center_id = ma.fields.Integer()
    condition = _condition()


class ExportArgs(IndicatorArgs):
    format = ma.fields.String(load_default="xlsx", validate=V.OneOf(["xlsx", "csv"]))


class IndicatorRowSchema(Schema):
    level = ma.fields.String(metadata={"description": "team, center or district"})
    center_id = ma.fields.Integer(allow_none=True)
    team_id = ma.fields.Integer(allow_none=True)
    name = ma.fields.String()
    condition = ma.fields.String()
    under_management = ma.fields.Integer()
    managed_to_spec = ma.fields.Integer()
    spec_rate = ma.fields.Float(allow_none=True)
    bp_measured = ma.fields.Integer()
    bp_controlled = ma.fields.Integer()
    bp_control_rate = ma.fields.Float(allow_none=True)
    fpg_measured = ma.fields.Integer()
    fpg_controlled = ma.fields.Integer()
    glucose_control_rate = ma.fields.Float(allow_none=True)
    emergency_visits = ma.fields.Integer()
    emergency_patients = ma.fields.Integer()
    visits = ma.fields.Integer()
    complete_visits = ma.fields.Integer()
    completeness_rate = ma.fields.Float(allow_none=True)


class IndicatorReportSchema(Schema):
    year = ma.fields.Integer()
    quarter = ma.fields.Integer(allow_none=True)
    period_start = ma.fields.Date()
    period_end = ma.fields.Date()
    visits_for_spec = ma.fields.Integer()
    rows = ma.fields.List(ma.fields.Nested(IndicatorRowSchema))
