"""Shapes of referrals: the request to send one, each action's body, the case, the thread, the summary.

The forms' contents are checked by gpcore (Chinese messages per field); the schemas here say which boxes
exist and refuse unknown top-level fields, as everywhere in the API.
"""
import marshmallow as ma

from gpcore.referral import KINDS, OUTCOMES, SESSIONS, STATES, URGENCIES

from ..api import Schema

V = ma.validate


class PrefillArgs(Schema):
    resident_id = ma.fields.String(required=True, validate=V.Length(max=36))
    condition = ma.fields.String(validate=V.OneOf(["hypertension", "t2dm"]), metadata={
        "description": "the condition whose latest visit's referral the form is for (a worklist item's offer); "
                       "default: the most urgent the rules asked for"})


class LabReportRefSchema(Schema):
    id = ma.fields.String()
    panel_name = ma.fields.String()
    reported_at = ma.fields.AwareDateTime(allow_none=True)
    abnormal = ma.fields.Boolean()
    critical = ma.fields.Boolean()


class SuggestedSchema(Schema):
    """A referral the follow-up rules asked for at a condition's latest visit (gpcore asked_by_the_rules)."""
    followup_id = ma.fields.String()
    visit_date = ma.fields.Date()
    condition = ma.fields.String()
    urgency = ma.fields.String(metadata={"description": "emergency, urgent or routine"})
    reason = ma.fields.String(allow_none=True, metadata={
        "description": "the doctor's referral reason on the visit, else the rules' reasons"})


class ReferralOfferSchema(SuggestedSchema):
    """A worklist item's offer of a referral the rules asked for."""
    prefill = ma.fields.String(metadata={"description": "GET it for the upward form pre-filled from the file"})


class LabResultLineSchema(Schema):
    name = ma.fields.String()
    value = ma.fields.String()
    unit = ma.fields.String()
    range = ma.fields.String()
    flags = ma.fields.List(ma.fields.String())
    critical = ma.fields.Boolean()


class LabReportWithResultsSchema(LabReportRefSchema):
    results = ma.fields.List(ma.fields.Nested(LabResultLineSchema))


class PrefillSchema(Schema):
    resident_id = ma.fields.String()
    form = ma.fields.Dict(metadata={"description": "the upward form (转出单) filled from the health file"})
    lab_reports = ma.fields.List(ma.fields.Nested(LabReportRefSchema),
                                 metadata={"description": "the resident's latest reports, to attach by id"})
    suggested = ma.fields.Nested(SuggestedSchema, allow_none=True, metadata={
        "description": "the latest visit's rules asked for a referral (emergency, second uncontrolled visit)"})


class ReferralCreateSchema(Schema):
    resident_id = ma.fields.String(required=True, validate=V.Length(max=36))
    urgency = ma.fields.String(required=True, metadata={"enum": list(URGENCIES)})
    kind = ma.fields.String(required=True, metadata={
        "enum": list(KINDS), "description": "econsult: answered online; transfer: seen in clinic"})
    specialist_id = ma.fields.Integer(allow_none=True, metadata={"description": "a named specialist, or"})
    hospital_id = ma.fields.Integer(allow_none=True, metadata={"description": "with department: the pool"})
    department = ma.fields.String(allow_none=True, validate=V.Length(max=60))
    form = ma.fields.Dict(required=True, metadata={
        "description": "the upward form (转出单), e.g. from GET /referrals/prefill; patient identity and "
                       "destination are filled in by the server"})
    lab_report_ids = ma.fields.List(ma.fields.String(validate=V.Length(max=36)), load_default=list,
                                    validate=V.Length(max=20))
    note = ma.fields.String(validate=V.Length(max=500), allow_none=True)


class ReferralListArgs(Schema):
    state = ma.fields.List(ma.fields.String(validate=V.OneOf(STATES)))
    urgency = ma.fields.String(validate=V.OneOf(list(URGENCIES)))
    team_id = ma.fields.Integer()
    resident_id = ma.fields.String(validate=V.Length(max=36))
    overdue = ma.fields.Boolean(metadata={"description": "waiting for a first response past its deadline"})
    page = ma.fields.Integer(load_default=1, validate=V.Range(min=1))
    page_size = ma.fields.Integer(load_default=50, validate=V.Range(min=1, max=500))


class ReferralRowSchema(Schema):
    id = ma.fields.String()
    resident_id = ma.fields.String()
    resident_name = ma.fields.String()
    team_id = ma.fields.Integer()
    center_id = ma.fields.Integer()
    hospital_id = ma.fields.Integer()
    department = ma.fields.String()
    specialist_id = ma.fields.Integer(allow_none=True)
    owner_id = ma.fields.Integer(allow_none=True)
    state = ma.fields.String()
    urgency = ma.fields.String()
    kind = ma.fields.String()
    sent_on = ma.fields.Date()
    response_due = ma.fields.Date()
    answered_on = ma.fields.Date(allow_none=True)
    follow_up_due = ma.fields.Date(allow_none=True)
    updated_at = ma.fields.AwareDateTime()
    escalated_at = ma.fields.AwareDateTime(allow_none=True, metadata={
        "description": "when the case, unanswered past response_due, went to the pool and the center"})
    overdue = ma.fields.Boolean(metadata={"description": "waiting for a first response past response_due"})


class MessageSchema(Schema):
    id = ma.fields.Integer()
    at = ma.fields.AwareDateTime()
    author_id = ma.fields.Integer(allow_none=True, metadata={"description": "null for a system entry"})
    author_name = ma.fields.String()
    author_role = ma.fields.String(metadata={"description": "gp, specialist, or system (an entry nobody signed "
                                                            "in wrote: an escalation, a household's move)"})
    kind = ma.fields.String(metadata={"description": "message, create, the action taken, or escalate / "
                                                     "team_move (system entries)"})
    text = ma.fields.String(allow_none=True)
    state_after = ma.fields.String()


class ReferralSchema(ReferralRowSchema):
    created_by = ma.fields.Integer()
    info_from = ma.fields.String(allow_none=True)
    form = ma.fields.Dict()
    lab_report_ids = ma.fields.List(ma.fields.String())
    answer = ma.fields.Dict(allow_none=True)
    return_form = ma.fields.Dict(allow_none=True)
    closing_followup_id = ma.fields.String(allow_none=True)
    created_at = ma.fields.AwareDateTime()
    allowed_actions = ma.fields.List(ma.fields.String(), metadata={"description": "what you may do now"})
    messages = ma.fields.List(ma.fields.Nested(MessageSchema))


class MessageCreateSchema(Schema):
    text = ma.fields.String(required=True)


class VisitLineSchema(Schema):
    id = ma.fields.String()
    visit_date = ma.fields.Date()
    condition = ma.fields.String()
    sbp = ma.fields.Integer(allow_none=True)
    dbp = ma.fields.Integer(allow_none=True)
    fpg_mmol = ma.fields.Float(allow_none=True)


class SummarySchema(Schema):
    referral_id = ma.fields.String()
    resident_id = ma.fields.String()
    patient_name = ma.fields.String()
    patient_sex = ma.fields.String()
    patient_age = ma.fields.Integer()
    birth_date = ma.fields.Date()
    id_number = ma.fields.String(allow_none=True)
    record_number = ma.fields.String()
    address = ma.fields.String()
    phone = ma.fields.String(allow_none=True)
    conditions = ma.fields.List(ma.fields.String())
    allergies = ma.fields.List(ma.fields.String())
    medications = ma.fields.List(ma.fields.String())
    recent_followups = ma.fields.List(ma.fields.String())
    visits = ma.fields.List(ma.fields.Nested(VisitLineSchema), metadata={"description": "the last visits"})
    lab_reports = ma.fields.List(ma.fields.Nested(LabReportWithResultsSchema),
                                 metadata={"description": "the reports attached to the case, with current results"})


# One body per action (POST /referrals/{id}/<action>, with If-Match).
class NoteSchema(Schema):
    note = ma.fields.String(allow_none=True, validate=V.Length(max=500))


class ReasonSchema(Schema):
    reason = ma.fields.String(required=True)


class QuestionSchema(Schema):
    question = ma.fields.String(required=True)


class InfoSchema(Schema):
    info = ma.fields.String(required=True)


class AnswerSchema(Schema):
    outcome = ma.fields.String(required=True, metadata={"enum": list(OUTCOMES)})
    advice = ma.fields.String(required=True)
    plan = ma.fields.String(required=True, metadata={"description": "what the team should do (follow-up plan)"})
    clinic_date = ma.fields.String(allow_none=True, metadata={"description": "YYYY-MM-DD, outcome clinic"})
    clinic_session = ma.fields.String(allow_none=True, metadata={"enum": list(SESSIONS)})
    admit_date = ma.fields.String(allow_none=True, metadata={"description": "YYYY-MM-DD, outcome admit"})


class ReturnSchema(Schema):
    form = ma.fields.Dict(required=True, metadata={"description": "the return form (回转单)"})


class CloseSchema(Schema):
    followup_id = ma.fields.String(required=True, validate=V.Length(max=36),
                                   metadata={"description": "the team's follow-up visit after the answer"})
    note = ma.fields.String(allow_none=True, validate=V.Length(max=500))


ACTION_BODIES = {"accept": NoteSchema, "decline": ReasonSchema, "pass_to_pool": ReasonSchema,
                 "ask_info": QuestionSchema, "give_info": InfoSchema, "answer": AnswerSchema,
                 "return_case": ReturnSchema, "close": CloseSchema, "cancel": ReasonSchema}


class ReferralAnswerItemSchema(Schema):
    referral_id = ma.fields.String()
    resident_id = ma.fields.String()
    name = ma.fields.String()
    state = ma.fields.String()
    outcome = ma.fields.String(allow_none=True)
    plan = ma.fields.String(allow_none=True)
    clinic_date = ma.fields.String(allow_none=True)
    hospital = ma.fields.String()
    department = ma.fields.String()
    specialist = ma.fields.String(allow_none=True)
    answered_on = ma.fields.Date(allow_none=True)
    follow_up_due = ma.fields.Date(allow_none=True)
    overdue_days = ma.fields.Integer(allow_none=True, metadata={"description": "days past follow_up_due"})
    task = ma.fields.String()
