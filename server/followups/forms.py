"""The national follow-up forms as marshmallow schemas, generated from gpcore's field table.

gpcore (`field_specs`, `RANGES`, `form_code_lists`) stays the one home of what a form accepts and of its
bilingual messages: the server still validates a posted form with gpcore, after the scope check and with
the resident's sex. These schemas carry the same facts (type, unit, range, code list with its Chinese
text) into `/openapi.json`, and load a form the way gpcore does; tests/server_followups/test_form_schemas.py
walks the field table and fails when the two disagree.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable

import marshmallow as ma

from gpcore.followup import DiabetesVisit, HypertensionVisit, codes
from gpcore.followup import fields as gp
from gpcore.followup import validation as rules
from gpcore.followup.visits import MAX_MEDICATIONS, as_medications, field_specs

from ..api import Schema

V = ma.validate
NOT_FILLED = "未填 (not filled)"  # the name of null in a nullable code list


def code_names(labels: Mapping[Any, codes.Label], nullable: bool = False) -> list[str]:
    """Chinese and English text of each code, in the order of the codes (the `x-enumNames` extension)."""
    return [f"{label.zh} ({label.en})" for label in labels.values()] + ([NOT_FILLED] if nullable else [])


def code_list_text(labels: Mapping[Any, codes.Label]) -> str:
    """The codes in words for a description: "1 门诊 clinic; 2 家庭 home"."""
    return "; ".join(f"{code} {label.zh} {label.en}" for code, label in labels.items())


def coded(field_cls: type[ma.fields.Field], labels: Mapping[Any, codes.Label], description: str | None = None,
          **kw) -> ma.fields.Field:
    """A field holding one code of a list: an enum in OpenAPI, each code named in Chinese and English."""
    metadata = {"x-enumNames": code_names(labels, kw.get("allow_none", False))}
    if description is not None:
        metadata["description"] = f"{description}: {code_list_text(labels)}"
    return field_cls(validate=V.OneOf(list(labels)), **kw, metadata=metadata)


class MedicationSchema(Schema):
    """One named drug on the form: 用法用量 每日 N 次, 每次 M mg."""

    name = ma.fields.String(required=True, validate=V.Length(max=gp.MAX_SHORT_TEXT),
                            metadata={"description": "药物名称 drug name"})
    times_per_day = ma.fields.Integer(
        required=True, validate=V.Range(*rules.MEDICATION_TIMES_PER_DAY),
        metadata={"description": "每日次数 times per day", "x-unit": "次/日"})
    mg_per_time = ma.fields.Float(
        required=True, validate=V.Range(*rules.MEDICATION_MG_PER_TIME),
        metadata={"description": "每次剂量 dose per time", "x-unit": "mg"})


# gpcore's coercer of a box -> the marshmallow field that accepts the same JSON (field class, arguments).
# A coercer missing here is a KeyError when the app starts: a new kind of box cannot reach the forms
# undocumented.
_FIELD_OF_COERCER: dict[Any, tuple[type[ma.fields.Field], Callable[[], dict]]] = {
    gp.as_int: (ma.fields.Integer, dict),
    gp.as_number: (ma.fields.Float, dict),
    gp.as_short_text: (ma.fields.String, lambda: {"validate": [V.Length(max=gp.MAX_SHORT_TEXT)]}),
    gp.as_long_text: (ma.fields.String, lambda: {"validate": [V.Length(max=gp.MAX_LONG_TEXT)]}),
    gp.as_date: (ma.fields.Date, dict),
    gp.as_bool: (ma.fields.Boolean, dict),
    as_medications: (
        ma.fields.List, lambda: {"cls_or_instance": ma.fields.Nested(MedicationSchema),
                                 "validate": [V.Length(max=MAX_MEDICATIONS)]}),
}
# Multi-choice boxes: a list of distinct codes, each from the box's code list.
_CODE_ITEMS = {gp.as_int_codes: ma.fields.Integer, gp.as_str_codes: ma.fields.String}


def _box_field(spec, code_list: Mapping | None) -> ma.fields.Field:
    """The marshmallow field of one box of the form."""
    options: dict[str, Any] = {"required": spec.required, "allow_none": not spec.required}
    description = f"{spec.label.zh} ({spec.label.en})"
    if spec.coerce in _CODE_ITEMS:
        if code_list is None:
            raise LookupError(f"{spec.name}: a multi-choice box without a code list in gpcore")
        text = f"{description}, distinct codes: {code_list_text(code_list)}"
        return ma.fields.List(coded(_CODE_ITEMS[spec.coerce], code_list), validate=_distinct, **options,
                              metadata={"description": text, "uniqueItems": True})
    if code_list is not None:
        return coded(ma.fields.Integer, code_list, description, **options)
    field_cls, arguments = _FIELD_OF_COERCER[spec.coerce]
    options.update(arguments())
    metadata: dict[str, Any] = {}
    if spec.name in rules.RANGES:
        low, high, unit = rules.RANGES[spec.name]
        options["validate"] = [*options.get("validate", []), V.Range(low, high)]
        description += f", {low}-{high}" + (f" {unit}" if unit else "")
        if unit:
            metadata["x-unit"] = unit
    return field_cls(**options, metadata={**metadata, "description": description})


def _distinct(values: list) -> None:
    if len(set(values)) != len(values):
        raise ma.ValidationError("lists a code twice")


def form_schema(visit_cls: type) -> type[Schema]:
    """A marshmallow schema with one field per box of a gpcore visit class, in form order."""
    code_lists = rules.form_code_lists(visit_cls)
    attrs: dict[str, Any] = {spec.name: _box_field(spec, code_lists.get(spec.name))
                             for spec in field_specs(visit_cls)}
    attrs["__doc__"] = visit_cls.__doc__
    return type(f"{visit_cls.__name__.removesuffix('Visit')}FormSchema", (Schema,), attrs)


HypertensionFormSchema = form_schema(HypertensionVisit)
DiabetesFormSchema = form_schema(DiabetesVisit)
# Registry code (server/households) -> its form's schema.
FORM_SCHEMAS = {"hypertension": HypertensionFormSchema, "t2dm": DiabetesFormSchema}


class AsStored(ma.fields.Dict):
    """A JSON object the server stored as gpcore wrote it, loaded and dumped unchanged (records signed under
    older rules keep their keys), and described in OpenAPI by the schemas given (either of them)."""

    def __init__(self, *schemas: type[ma.Schema], **kwargs):
        super().__init__(**kwargs)
        self.schemas = schemas

    def openapi(self, converter, ret: dict) -> dict:
        """Its OpenAPI property: the schemas (instead of a free object)."""
        ret.pop("type", None)
        ret.pop("additionalProperties", None)
        refs = [converter.resolve_nested_schema(schema) for schema in self.schemas]
        return {"anyOf": refs} if len(refs) > 1 else {"allOf": refs}


class FollowUpForm(AsStored):
    """The form of a follow-up record, checked by gpcore in the service (where the registry's condition and
    the resident's sex are known); in OpenAPI the hypertension or the diabetes form, as `condition` (or, for
    an amendment, the amended record) says."""

    def __init__(self, **kwargs):
        super().__init__(*FORM_SCHEMAS.values(), **kwargs)


class RuleReasonSchema(Schema):
    """Why the rules decided something."""

    code = ma.fields.String(metadata={"description": "stable code"})
    zh = ma.fields.String()
    en = ma.fields.String()


class AssessmentSchema(Schema):
    """What the shared rules (gpcore.followup.Assessment) decided for a visit."""

    condition = ma.fields.String(validate=V.OneOf(list(codes.CONDITIONS)))
    controlled = ma.fields.Boolean(allow_none=True, metadata={"description": "null: nothing was measured"})
    control_target = ma.fields.String()
    classification = coded(ma.fields.Integer, codes.VISIT_CLASSIFICATIONS, "此次随访分类 visit classification",
                           allow_none=True)
    classification_reasons = ma.fields.List(ma.fields.Nested(RuleReasonSchema))
    emergency = ma.fields.Boolean()
    emergency_reasons = ma.fields.List(ma.fields.Nested(RuleReasonSchema))
    consecutive_uncontrolled = ma.fields.Boolean()
    referral = coded(ma.fields.String, codes.REFERRAL_LEVELS, "转诊建议 referral advice")
    referral_reasons = ma.fields.List(ma.fields.Nested(RuleReasonSchema))
    next_visit_date = ma.fields.Date()
    next_visit_reason = ma.fields.Nested(RuleReasonSchema)
    guidance_zh = ma.fields.List(ma.fields.String(), metadata={"description": "advice for the patient"})
    bmi = ma.fields.Float(allow_none=True)
    rules_version = ma.fields.String()
