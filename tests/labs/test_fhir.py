"""FHIR R4 bundles map onto the same dataclasses as HL7 v2; invalid bundles fail with a field path."""
import copy
import datetime as dt
import json
from decimal import Decimal

import pytest

from server.labs.fhir import FHIRBundleError, parse_fhir_bundle
from server.labs.model import LabMessage

CST = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture
def bundle_bytes(fixture_message):
    return fixture_message("bundle-chem-r4.json")


@pytest.fixture
def bundle(bundle_bytes):
    return json.loads(bundle_bytes)


def test_valid_bundle_maps_header_patient_and_report(bundle_bytes):
    msg = parse_fhir_bundle(bundle_bytes)
    assert isinstance(msg, LabMessage)
    assert (msg.control_id, msg.sending_app, msg.message_type) == (
        "FHIR-MSG-0001", "http://lis.hosp-e.example/fhir", "Bundle/collection")
    assert msg.sent_at == dt.datetime(2025, 3, 5, 10, 30, tzinfo=CST)
    p = msg.patient
    assert (p.name, p.name_alphabetic, p.sex, p.birth_date) == ("张伟", "Zhang Wei", "F", dt.date(1980, 1, 1))
    assert [(i.value, i.type_code) for i in p.identifiers] == [
        ("MR-9001", "MR"), ("34052419800101001X", "NNCHN")]
    assert p.citizen_id == "34052419800101001X"
    (rep,) = msg.reports
    assert (rep.placer_no, rep.filler_no, rep.panel_code, rep.panel_name) == (
        "PLACER-777", "FILLER-555", "24323-8", "生化全套")
    assert (rep.specimen_type, rep.status, rep.tester, rep.reviewer) == ("血清", "F", "王强", "李明")
    assert rep.specimen_received_at == dt.datetime(2025, 3, 5, 8, 10, tzinfo=CST)
    assert rep.reported_at == dt.datetime(2025, 3, 5, 10, 20, tzinfo=CST)
    assert rep.collected_at == dt.datetime(2025, 3, 5, 7, 45, tzinfo=CST)


def test_valid_bundle_results(bundle_bytes):
    rep = parse_fhir_bundle(bundle_bytes).reports[0]
    chol, hgb, k, crp, protein = rep.results
    assert (chol.code, chol.name, chol.coding_system) == ("2093-3", "总胆固醇", "http://loinc.org")
    assert (chol.value_text, chol.value_num, chol.unit) == ("6.20", Decimal("6.20"), "mmol/L")
    assert (chol.range_text, chol.range_low, chol.range_high, chol.flags, chol.abnormal) == (
        "<5.2", None, Decimal("5.2"), ["H"], True)
    assert chol.observed_at == dt.datetime(2025, 3, 5, 9, 50, tzinfo=CST)
    # Female patient: the appliesTo=female range is picked, both kept.
    assert (hgb.range_low, hgb.range_high) == (Decimal("115"), Decimal("150"))
    assert hgb.range_by_sex == {"M": "130-175", "F": "115-150"}
    assert (k.status, k.is_correction, k.critical, k.flags) == ("C", True, True, ["HH"])
    assert (crp.value_type, crp.value_text, crp.value_num, crp.comparator, crp.status) == (
        "SN", "<0.5", Decimal("0.5"), "<", "P")
    assert (crp.range_low, crp.range_high) == (None, Decimal("5"))
    assert (protein.value_type, protein.value_code, protein.value_text) == ("CWE", "260385009", "阴性")
    assert [(x.code, x.value_text) for x in rep.excluded] == [("30525-0", "45")]


def test_bytes_str_and_dict_give_the_same_message(bundle_bytes, bundle):
    from_bytes = parse_fhir_bundle(bundle_bytes)
    assert parse_fhir_bundle(bundle_bytes.decode()) == from_bytes
    from_dict = parse_fhir_bundle(bundle)
    assert from_dict.results[1:] == from_bytes.results[1:]  # a dict holds 6.2 as a float, not "6.20"


def test_male_patient_gets_the_male_range(bundle):
    bundle["entry"][0]["resource"]["gender"] = "male"
    hgb = parse_fhir_bundle(bundle).results[1]
    assert (hgb.range_low, hgb.range_high) == (Decimal("130"), Decimal("175"))


def test_observations_without_a_report_are_grouped(bundle):
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["resourceType"] != "DiagnosticReport"]
    (rep,) = parse_fhir_bundle(bundle).reports
    assert rep.panel_code == "" and len(rep.results) == 5 and len(rep.excluded) == 1


def mutate(bundle, index, **changes):
    b = copy.deepcopy(bundle)
    b["entry"][index]["resource"].update(changes)
    return b


def drop(bundle, index, key):
    b = copy.deepcopy(bundle)
    del b["entry"][index]["resource"][key]
    return b


@pytest.mark.parametrize("make, path", [
    (lambda b: b"{not json", "$"),
    (lambda b: b"[1, 2]", "$"),
    (lambda b: {**b, "resourceType": "Patient"}, "resourceType"),
    (lambda b: drop(b, 4, "status"), "entry[4].resource.status"),
    (lambda b: mutate(b, 4, status="done"), "entry[4].resource.status"),
    (lambda b: mutate(b, 3, status="signed"), "entry[3].resource.status"),
    (lambda b: mutate(b, 0, gender="mal"), "entry[0].resource.gender"),
    (lambda b: mutate(b, 0, birthDate="1980-13-45"), "entry[0].resource.birthDate"),
    (lambda b: mutate(b, 4, valueQuantity={"value": "lots"}), "entry[4].resource.valueQuantity.value"),
    (lambda b: mutate(b, 5, resourceType="Observatio"), "entry[5].resource.resourceType"),
    (lambda b: mutate(b, 3, result=[{"reference": "urn:uuid:missing"}]), "entry[3].resource.result[0]"),
    (lambda b: {**b, "entry": b["entry"][1:]}, "entry"),  # no Patient
    (lambda b: {**b, "entry": b["entry"] + b["entry"][:1]}, "entry"),  # two Patients
])
def test_invalid_bundles_name_the_field(bundle, make, path):
    with pytest.raises(FHIRBundleError) as caught:
        parse_fhir_bundle(make(bundle))
    assert caught.value.path == path
    assert caught.value.reason and caught.value.errors


def panel_bundle(bundle, member_refs):
    b = copy.deepcopy(bundle)
    panel = {"fullUrl": "urn:uuid:panel", "resource": {
        "resourceType": "Observation", "id": "panel", "status": "final", "code": {"text": "Lipid panel"},
        "hasMember": [{"reference": r} for r in member_refs]}}
    b["entry"].append(panel)
    report = b["entry"][3]["resource"]
    report["result"] = [{"reference": "urn:uuid:panel"}]
    return b


def test_panel_observation_is_expanded_into_its_members(bundle):
    b = panel_bundle(bundle, ["urn:uuid:7c1d0a3e-0000-4000-8000-000000000021", "Observation/o3"])
    rep, loose = parse_fhir_bundle(b).reports
    assert rep.panel_code == "24323-8"
    assert [(r.set_id, r.code) for r in rep.results] == [("1.1", "2093-3"), ("1.2", "2823-3")]
    # The other observations are no longer listed by any report, so they form their own group.
    assert loose.panel_code == "" and [r.code for r in loose.results] == ["718-7", "1988-5", "20454-5"]
    assert [x.code for x in loose.excluded] == ["30525-0"]


def test_unresolved_panel_member_is_an_error(bundle):
    with pytest.raises(FHIRBundleError) as caught:
        parse_fhir_bundle(panel_bundle(bundle, ["Observation/nope"]))
    assert caught.value.path == "Observation/panel.hasMember[0]"


def test_non_object_entry_path_has_no_pydantic_root(bundle):
    with pytest.raises(FHIRBundleError) as caught:
        parse_fhir_bundle({**bundle, "entry": [1]})
    assert caught.value.path == "entry[0]"


def test_numbers_the_result_column_cannot_hold_stay_text(bundle):
    b = mutate(bundle, 4, valueQuantity={"value": 1e20, "unit": "mmol/L"})
    b = mutate(b, 5, referenceRange=[{"low": {"value": 0}, "high": {"value": 1e20}}])
    b = mutate(b, 6, valueQuantity={"value": 0.00000012, "unit": "mmol/L"})
    msg = parse_fhir_bundle(json.dumps(b).encode())  # bytes: numbers are read as Decimal, as from a feed
    chol, hgb, k = msg.results[:3]
    assert (chol.value_text, chol.value_num) == ("1E+20", None)
    assert (hgb.value_num, hgb.range_text, hgb.range_low, hgb.range_high) == (
        Decimal("108"), "0-1E+20", None, None)
    assert (k.value_text, k.value_num) == ("1.2E-7", None)  # not rounded to 0
    tail = (" does not fit the result column (more than 14 digits before the point or 6 after it): "
            "kept as text only")
    assert msg.warnings == ["Observation/o1: value" + tail, "Observation/o2: referenceRange high" + tail,
                            "Observation/o3: value" + tail]


def deep_extension(depth):
    ext = {"url": "http://example.org/x", "valueString": "v"}
    for _ in range(depth):
        ext = {"url": "http://example.org/x", "extension": [ext]}
    return ext


@pytest.mark.parametrize("make, path", [
    (lambda b: b"[" * 100000 + b"]" * 100000, "$"),
    (lambda b: b'{"a":' * 100000 + b"1" + b"}" * 100000, "$"),
    (lambda b: mutate(b, 0, extension=[deep_extension(400)]), "$"),  # shallow for json, too deep for pydantic
    (lambda b: json.dumps({**b, "total": 1}).replace('"total": 1', '"total": ' + "9" * 5000).encode(), "$"),
    (lambda b: json.dumps({**b, "total": 1}).replace('"total": 1', '"total": 1e999999').encode(), "total"),
], ids=["deep arrays", "deep objects", "deep extensions", "5000-digit integer", "1e999999"])
def test_pathological_json_is_a_bundle_error(bundle, make, path):
    with pytest.raises(FHIRBundleError) as caught:
        parse_fhir_bundle(make(bundle))
    assert caught.value.path == path


def test_panel_that_contains_itself_is_an_error(bundle):
    b = panel_bundle(bundle, ["urn:uuid:panel"])
    with pytest.raises(FHIRBundleError) as caught:
        parse_fhir_bundle(b)
    assert caught.value.path == "Observation/panel.hasMember[0]"
