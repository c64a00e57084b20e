"""Shapes of household health files on the wire; code lists come from gpcore.health_file."""
import marshmallow as ma

from gpcore import health_file as hf

from ..api import MAX_PAGE, Schema
from ..limits import no_control_characters

V = ma.validate


def _code(codes, **kw):
    return ma.fields.String(validate=V.OneOf(list(codes)), metadata={"description": _describe(codes)}, **kw)


def _codes(codes, **kw):
    return ma.fields.List(ma.fields.String(validate=V.OneOf(list(codes))),
                          metadata={"description": _describe(codes)}, **kw)


def _describe(codes) -> str:
    return "; ".join(f"{k} {v}" for k, v in codes.items())


class LivingEnvironment:
    kitchen_exhaust = _code(hf.KITCHEN_EXHAUST, allow_none=True)
    fuel = _code(hf.FUEL, allow_none=True)
    water = _code(hf.WATER, allow_none=True)
    toilet = _code(hf.TOILET, allow_none=True)
    livestock_pen = _code(hf.LIVESTOCK, allow_none=True)


class HouseholdCreateSchema(Schema):
    committee_id = ma.fields.Integer(required=True)
    address = ma.fields.String(required=True, validate=V.Length(min=2, max=200))
    phone = ma.fields.String(validate=V.Length(max=30), allow_none=True)
    health_problems = ma.fields.String(validate=V.Length(max=2000), allow_none=True)
    kitchen_exhaust = LivingEnvironment.kitchen_exhaust
    fuel = LivingEnvironment.fuel
    water = LivingEnvironment.water
    toilet = LivingEnvironment.toilet
    livestock_pen = LivingEnvironment.livestock_pen


class HouseholdUpdateSchema(Schema):
    address = ma.fields.String(validate=V.Length(min=2, max=200))
    phone = ma.fields.String(validate=V.Length(max=30), allow_none=True)
    head_id = ma.fields.String(allow_none=True, metadata={"description": "a member's resident id"})
    health_problems = ma.fields.String(validate=V.Length(max=2000), allow_none=True)
    kitchen_exhaust = LivingEnvironment.kitchen_exhaust
    fuel = LivingEnvironment.fuel
    water = LivingEnvironment.water
    toilet = LivingEnvironment.toilet
    livestock_pen = LivingEnvironment.livestock_pen


class HouseholdMemberSchema(Schema):
    id = ma.fields.String()
    name = ma.fields.String()
    sex = ma.fields.String()
    birth_date = ma.fields.Date()
    relation_to_head = ma.fields.String(allow_none=True)
    record_number = ma.fields.String()
    status = ma.fields.String()
    conditions = ma.fields.Method("_conditions")

    def _conditions(self, obj):
        return [c.condition for c in obj.conditions if c.status == "managed"]


class HouseholdSchema(Schema):
    id = ma.fields.String()
    center_id = ma.fields.Integer()
    committee_id = ma.fields.Integer()
    committee_name = ma.fields.Function(lambda h: h.committee.name)
    team_id = ma.fields.Integer(allow_none=True)
    address = ma.fields.String()
    phone = ma.fields.String(allow_none=True)
    head_id = ma.fields.String(allow_none=True)
    health_problems = ma.fields.String(allow_none=True)
    kitchen_exhaust = ma.fields.String(allow_none=True)
    fuel = ma.fields.String(allow_none=True)
    water = ma.fields.String(allow_none=True)
    toilet = ma.fields.String(allow_none=True)
    livestock_pen = ma.fields.String(allow_none=True)
    version = ma.fields.Integer()
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()
    members = ma.fields.List(ma.fields.Nested(HouseholdMemberSchema))


class HouseholdRowSchema(Schema):
    """One line of a household list."""

    id = ma.fields.String()
    address = ma.fields.String()
    committee_id = ma.fields.Integer()
    committee_name = ma.fields.String()
    team_id = ma.fields.Integer(allow_none=True)
    head_name = ma.fields.String(allow_none=True)
    member_count = ma.fields.Integer()


class HouseholdListArgs(Schema):
    page = ma.fields.Integer(load_default=1, validate=V.Range(min=1, max=MAX_PAGE))
    page_size = ma.fields.Integer(load_default=50, validate=V.Range(min=1, max=500))
    committee_id = ma.fields.Integer()
    team_id = ma.fields.Integer()
    unassigned = ma.fields.Boolean(metadata={"description": "only households with no team"})
    address = ma.fields.String(validate=V.Length(min=1, max=100), metadata={"description": "fragment"})


class PastDiseaseSchema(Schema):
    code = _code(hf.PAST_DISEASE, required=True)
    diagnosed = ma.fields.String(validate=V.Regexp(r"^\d{4}(-\d{2})?$"), allow_none=True,
                                 metadata={"description": "YYYY or YYYY-MM"})
    note = ma.fields.String(validate=V.Length(max=100), allow_none=True)


class ProcedureSchema(Schema):
    name = ma.fields.String(required=True, validate=V.Length(min=1, max=100))
    date = ma.fields.Date(allow_none=True)


class ProceduresSchema(Schema):
    surgery = ma.fields.List(ma.fields.Nested(ProcedureSchema), validate=V.Length(max=2))
    trauma = ma.fields.List(ma.fields.Nested(ProcedureSchema), validate=V.Length(max=2))
    transfusion = ma.fields.List(ma.fields.Nested(ProcedureSchema), validate=V.Length(max=2))


class FamilyHistorySchema(Schema):
    father = _codes(hf.FAMILY_DISEASE)
    mother = _codes(hf.FAMILY_DISEASE)
    siblings = _codes(hf.FAMILY_DISEASE)
    children = _codes(hf.FAMILY_DISEASE)


class ResidentFields(Schema):
    """The personal basic information fields a person edits."""

    name = ma.fields.String(validate=[V.Length(min=1, max=50), no_control_characters])
    sex = _code(hf.SEX)
    birth_date = ma.fields.Date()
    id_number = ma.fields.String(allow_none=True, validate=V.Length(min=15, max=18))
    relation_to_head = _code(hf.RELATIONSHIP, allow_none=True)
    phone = ma.fields.String(allow_none=True, validate=V.Length(max=30))
    employer = ma.fields.String(allow_none=True, validate=V.Length(max=100))
    contact_name = ma.fields.String(allow_none=True, validate=[V.Length(max=50), no_control_characters])
    contact_phone = ma.fields.String(allow_none=True, validate=V.Length(max=30))
    residence_type = _code(hf.RESIDENCE_TYPE, allow_none=True)
    ethnicity = _code(hf.ETHNICITY, allow_none=True)
    ethnicity_name = ma.fields.String(allow_none=True, validate=V.Length(max=20))
    blood_abo = _code(hf.BLOOD_ABO, allow_none=True)
    blood_rh = _code(hf.BLOOD_RH, allow_none=True)
    education = _code(hf.EDUCATION, allow_none=True)
    occupation = _code(hf.OCCUPATION, allow_none=True)
    marital_status = _code(hf.MARITAL, allow_none=True)
    payment_methods = _codes(hf.PAYMENT)
    drug_allergies = _codes(hf.DRUG_ALLERGY)
    drug_allergy_other = ma.fields.String(allow_none=True, validate=V.Length(max=100))
    exposures = _codes(hf.EXPOSURE)
    past_diseases = ma.fields.List(ma.fields.Nested(PastDiseaseSchema))
    procedures = ma.fields.Nested(ProceduresSchema)
    family_history = ma.fields.Nested(FamilyHistorySchema)
    hereditary_disease = ma.fields.String(allow_none=True, validate=V.Length(max=100))
    disabilities = _codes(hf.DISABILITY)
    responsible_doctor_id = ma.fields.Integer(allow_none=True)


class ResidentCreateSchema(ResidentFields):
    household_id = ma.fields.String(required=True)
    name = ma.fields.String(required=True, validate=[V.Length(min=1, max=50), no_control_characters])
    sex = _code(hf.SEX, required=True)
    birth_date = ma.fields.Date(required=True)


class ResidentUpdateSchema(ResidentFields):
    sms_consent = ma.fields.Boolean(metadata={"description": "the resident agrees to reminders by SMS"})


class ConditionSchema(Schema):
    id = ma.fields.String(dump_only=True)
    condition = _code(hf.CHRONIC_CONDITION, required=True)
    diagnosed_on = ma.fields.Date(allow_none=True)
    status = ma.fields.String(dump_only=True)
    status_date = ma.fields.Date(dump_only=True, allow_none=True)
    status_reason = ma.fields.String(dump_only=True, allow_none=True)
    version = ma.fields.Integer(dump_only=True)


class ConditionUpdateSchema(Schema):
    status = _code(hf.MANAGEMENT_STATUS, required=True)
    status_date = ma.fields.Date(required=True)
    status_reason = ma.fields.String(validate=V.Length(max=200), allow_none=True)
    diagnosed_on = ma.fields.Date(allow_none=True)


class ResidentSchema(ResidentFields):
    id = ma.fields.String()
    household_id = ma.fields.String()
    team_id = ma.fields.Integer(allow_none=True)
    center_id = ma.fields.Integer()
    record_number = ma.fields.String()
    record_number_short = ma.fields.Function(lambda r: r.record_number[-8:])
    status = ma.fields.String()
    status_date = ma.fields.Date(allow_none=True)
    death_cause = ma.fields.String(allow_none=True)
    version = ma.fields.Integer()
    sms_consent = ma.fields.Boolean()
    sms_consent_at = ma.fields.DateTime(allow_none=True)
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()
    conditions = ma.fields.List(ma.fields.Nested(ConditionSchema))


class ResidentRowSchema(Schema):
    """One line of a search result."""

    id = ma.fields.String()
    name = ma.fields.String()
    sex = ma.fields.String()
    birth_date = ma.fields.Date()
    record_number = ma.fields.String()
    id_number_masked = ma.fields.Function(
        lambda r: (r.id_number[:6] + "********" + r.id_number[-4:]) if r.id_number else None)
    phone = ma.fields.String(allow_none=True)
    household_id = ma.fields.String()
    address = ma.fields.Function(lambda r: r.household.address)
    team_id = ma.fields.Integer(allow_none=True)
    status = ma.fields.String()


class ResidentSearchArgs(Schema):
    q = ma.fields.String(validate=V.Length(min=1, max=60), metadata={
        "description": "name, pinyin initials (zs), ID number, record number (17 or last 8 digits), "
                       "phone or address fragment; the kind is recognised from the text"})
    condition = _code(hf.CHRONIC_CONDITION)
    household_id = ma.fields.String()
    status = _code(hf.RESIDENT_STATUS)
    page = ma.fields.Integer(load_default=1, validate=V.Range(min=1, max=MAX_PAGE))
    page_size = ma.fields.Integer(load_default=20, validate=V.Range(min=1, max=200))


class ResidentMoveSchema(Schema):
    household_id = ma.fields.String(required=True)
    reason = ma.fields.String(required=True, validate=V.Length(min=2, max=200))
    relation_to_head = _code(hf.RELATIONSHIP, allow_none=True)


class StatusSchema(Schema):
    status = _code(hf.RESIDENT_STATUS, required=True)
    date = ma.fields.Date(required=True)
    death_cause = ma.fields.String(validate=V.Length(max=200), allow_none=True)
    reason = ma.fields.String(validate=V.Length(max=200), allow_none=True)
