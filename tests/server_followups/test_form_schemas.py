"""The typed follow-up forms: /openapi.json and the generated schemas agree with gpcore's field table.

Walks gpcore (field_specs, RANGES, form_code_lists, the medication limits) and checks each box in the
published document, so a box, range or code added to gpcore without reaching the API fails here.
"""
import pytest

from gpcore.followup import (REFERRAL_LEVELS, VISIT_CLASSIFICATIONS, VISIT_MODES, DiabetesVisit,
                             HypertensionVisit)
from gpcore.followup import fields as gp
from gpcore.followup import validation as rules
from gpcore.followup.visits import MAX_MEDICATIONS, as_medications, field_specs
from server.followups.forms import FORM_SCHEMAS

FORMS = [("HypertensionForm", HypertensionVisit, "hypertension"), ("DiabetesForm", DiabetesVisit, "t2dm")]
# What each of gpcore's coercers accepts, said independently of server/followups/forms.py.
TYPES = {
    gp.as_int: {"type": "integer"},
    gp.as_number: {"type": "number"},
    gp.as_short_text: {"type": "string", "maxLength": gp.MAX_SHORT_TEXT},
    gp.as_long_text: {"type": "string", "maxLength": gp.MAX_LONG_TEXT},
    gp.as_date: {"type": "string", "format": "date"},
    gp.as_bool: {"type": "boolean"},
    gp.as_int_codes: {"type": "array", "uniqueItems": True},
    gp.as_str_codes: {"type": "array", "uniqueItems": True},
    as_medications: {"type": "array", "maxItems": MAX_MEDICATIONS},
}
ITEM_TYPES = {gp.as_int_codes: "integer", gp.as_str_codes: "string"}


@pytest.fixture
def spec(client):
    return client.get("/openapi.json").get_json()


def _schemas(spec):
    return spec["components"]["schemas"]


def _check_enum(prop: dict, labels: dict, nullable: bool):
    """enum lists exactly the codes (plus null when the box may be empty), each named in Chinese."""
    expected = list(labels) + ([None] if nullable else [])
    assert prop["enum"] == expected
    names = prop["x-enumNames"]
    assert len(names) == len(expected)
    for name, label in zip(names, labels.values()):
        assert label.zh in name and label.en in name


@pytest.mark.parametrize("name, visit_cls, condition", FORMS)
def test_every_box_of_the_form_is_in_openapi_with_type_unit_range_and_codes(spec, name, visit_cls, condition):
    form = _schemas(spec)[name]
    specs = field_specs(visit_cls)
    assert list(form["properties"]) == [box.name for box in specs]  # every box, in form order, no other
    assert sorted(form["required"]) == sorted(box.name for box in specs if box.required)
    assert form["additionalProperties"] is False
    code_lists = rules.form_code_lists(visit_cls)
    for box in specs:
        prop = form["properties"][box.name]
        assert box.label.zh in prop["description"], box.name
        assert prop.get("nullable", False) is (not box.required), box.name
        for key, value in TYPES[box.coerce].items():
            assert prop.get(key) == value, (box.name, key, prop)
        if box.name in rules.RANGES:
            low, high, unit = rules.RANGES[box.name]
            assert (prop["minimum"], prop["maximum"]) == (low, high), box.name
            assert prop.get("x-unit", "") == unit and f"{low}-{high}" in prop["description"], box.name
        else:
            assert "minimum" not in prop and "maximum" not in prop, box.name
        labels = code_lists.get(box.name)
        if box.coerce in ITEM_TYPES:
            assert labels is not None, f"{box.name}: a list of codes with no code list"
            assert prop["items"]["type"] == ITEM_TYPES[box.coerce]
            _check_enum(prop["items"], dict(labels), nullable=False)
        elif labels is not None:
            _check_enum(prop, dict(labels), nullable=not box.required)
        else:
            assert "enum" not in prop, box.name
    assert set(code_lists) <= set(form["properties"])


def test_medication_items_carry_gpcore_limits(spec):
    medication = _schemas(spec)["Medication"]
    props = medication["properties"]
    assert sorted(medication["required"]) == ["mg_per_time", "name", "times_per_day"]
    for name, limits in (("times_per_day", rules.MEDICATION_TIMES_PER_DAY),
                         ("mg_per_time", rules.MEDICATION_MG_PER_TIME)):
        assert (props[name]["minimum"], props[name]["maximum"]) == limits
    assert props["name"]["maxLength"] == gp.MAX_SHORT_TEXT
    for name in ("HypertensionForm", "DiabetesForm"):
        items = _schemas(spec)[name]["properties"]["medications"]["items"]
        assert items == {"$ref": "#/components/schemas/Medication"}


@pytest.mark.parametrize("schema", ["VisitCreate", "Amendment", "FollowUp"])
def test_follow_up_bodies_refer_to_the_forms_not_a_free_object(spec, schema):
    prop = _schemas(spec)[schema]["properties"]["form"]
    assert "type" not in prop and "additionalProperties" not in prop
    assert prop["anyOf"] == [{"$ref": "#/components/schemas/HypertensionForm"},
                             {"$ref": "#/components/schemas/DiabetesForm"}]


@pytest.mark.parametrize("schema",
                         ["FollowUp", "FollowUpRow", "WorklistItem", "DeviceAssessment", "Assessment"])
def test_classification_and_referral_are_enums_with_chinese_text(spec, schema):
    props = _schemas(spec)[schema]["properties"]
    _check_enum(props["classification"], VISIT_CLASSIFICATIONS, nullable=True)
    _check_enum(props["referral"], REFERRAL_LEVELS, nullable=schema not in ("DeviceAssessment", "Assessment"))
    if "visit_mode" in props:
        _check_enum(props["visit_mode"], VISIT_MODES, nullable=True)


def test_the_stored_assessment_is_described_by_gpcore_s_fields(spec):
    from gpcore.followup import Assessment

    schemas = _schemas(spec)
    assert list(schemas["Assessment"]["properties"]) == list(Assessment._fields)
    for name, ref in (("assessment", "Assessment"), ("device_assessment", "DeviceAssessment")):
        prop = schemas["FollowUp"]["properties"][name]
        assert prop["allOf"] == [{"$ref": f"#/components/schemas/{ref}"}] and prop["nullable"] is True


def _bad_values(visit_cls):
    """Each coded or ranged box of a form with a value gpcore refuses (outside its list, beyond its range)."""
    code_lists = rules.form_code_lists(visit_cls)
    for box in field_specs(visit_cls):
        labels = code_lists.get(box.name)
        if labels is not None:
            outside = "no_such_code" if box.coerce is gp.as_str_codes else max(labels) + 1
            yield box.name, [outside] if box.coerce in ITEM_TYPES else outside
        if box.name in rules.RANGES:
            low, high, _ = rules.RANGES[box.name]
            yield box.name, high + 1
            yield box.name, low - 1


@pytest.mark.parametrize("condition, visit_cls",
                         [("hypertension", HypertensionVisit), ("t2dm", DiabetesVisit)])
def test_generated_schema_refuses_what_gpcore_refuses(fu, condition, visit_cls):
    make = fu.htn_form if condition == "hypertension" else fu.dm_form
    schema = FORM_SCHEMAS[condition]()
    parse = rules.check_hypertension_visit if visit_cls is HypertensionVisit else rules.check_diabetes_visit
    assert schema.validate(make()) == {} and parse(make(), today=fu.TODAY) == []
    cases = list(_bad_values(visit_cls))
    assert len(cases) > 20
    for name, value in cases:
        form = make(**{name: value})
        assert name in {p.field for p in parse(form, today=fu.TODAY)}, (name, value)
        assert name in schema.validate(form), (name, value)
    for bad in ({"unknown_box": 1}, {"visit_date": None}, {"symptoms": [2, 2]},
                {"medications": [{"name": "x", "times_per_day": 13, "mg_per_time": 1}]}):
        form = {k: v for k, v in {**make(), **bad}.items() if v is not None}
        assert parse(form, today=fu.TODAY) and schema.validate(form), bad


def test_a_code_outside_its_list_is_a_422_naming_the_field_in_chinese(fu, as_user):
    fu.register("A1-0-0")
    body = {"id": fu.new_id(), "resident_id": fu.w.residents["A1-0-0"], "condition": "hypertension",
            "form": fu.htn_form(salt_intake=4)}
    zh = {"Accept-Language": "zh-CN,zh;q=0.9"}
    r = as_user("gp-a1").post("/api/v1/followups", json=body, headers=zh)
    assert r.status_code == 422
    payload = r.get_json()
    assert payload["errors"]["form"]["salt_intake"] == ["摄盐情况只能选：1 轻、2 中、3 重。"]
    assert payload["message"] == "随访表填写有误：摄盐情况。"
    r = as_user("gp-a1").post("/api/v1/followups", json={**body, "id": fu.new_id()})
    assert r.get_json()["message"] == "The follow-up form has invalid fields: salt_intake."


def test_a_form_that_is_not_an_object_is_a_422_in_chinese(fu, as_user):
    fu.register("A1-0-0")
    body = {"id": fu.new_id(), "resident_id": fu.w.residents["A1-0-0"], "condition": "hypertension",
            "form": [1, 2]}
    r = as_user("gp-a1").post("/api/v1/followups", json=body, headers={"Accept-Language": "zh"})
    assert r.status_code == 422
    assert r.get_json()["errors"]["json"]["form"] == ["须是一个对象（{…}）。"]
