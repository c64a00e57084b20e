"""Shapes of departments and specialists' directory entries."""
import marshmallow as ma

from ..api import Schema
from .models import HALF_DAYS, TITLES

V = ma.validate


class DepartmentSchema(Schema):
    id = ma.fields.Integer(dump_only=True)
    hospital_id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True, validate=V.Length(min=1, max=60),
                            metadata={"description": "as in a specialist user's department, e.g. 心内科"})
    specialty = ma.fields.String(required=True, validate=V.Length(min=1, max=100))
    phone = ma.fields.String(validate=V.Length(max=30), allow_none=True)


class DirectoryArgs(Schema):
    specialty = ma.fields.String(validate=V.Length(min=1, max=50),
                                 metadata={"description": "a fragment of the specialty or department"})
    hospital_id = ma.fields.Integer()
    department = ma.fields.String(validate=V.Length(min=1, max=60))
    takes_econsult = ma.fields.Boolean()


class ClinicSessionSchema(Schema):
    weekday = ma.fields.Integer(required=True, validate=V.Range(1, 7),
                                metadata={"description": "1 Monday .. 7 Sunday"})
    half_day = ma.fields.String(required=True, validate=V.OneOf(HALF_DAYS))


class SpecialistEntrySchema(Schema):
    specialty = ma.fields.String(required=True, validate=V.Length(min=1, max=100))
    title = ma.fields.String(required=True, validate=V.OneOf(list(TITLES)))
    clinic_sessions = ma.fields.List(ma.fields.Nested(ClinicSessionSchema), load_default=list,
                                     validate=V.Length(max=14))
    takes_econsult = ma.fields.Boolean(load_default=True)
    phone_for_teams = ma.fields.String(validate=V.Length(max=30), allow_none=True)


class SpecialistRowSchema(SpecialistEntrySchema):
    user_id = ma.fields.Integer()
    full_name = ma.fields.String()
    hospital_id = ma.fields.Integer()
    department = ma.fields.String(allow_none=True)
    department_specialty = ma.fields.String(allow_none=True)
    title_label = ma.fields.String(allow_none=True)
