"""FHIR R4 lab results: a Bundle of Patient, DiagnosticReport and Observation resources -> LabMessage.

fhir.resources 8 models R5 at its top level and ships `fhir.resources.R4B` (FHIR 4.3.0) and `STU3`, but no
4.0.1 package. R4B is used: it is the R4 line's technical correction (4.3 keeps 4.0.1's Bundle, Patient,
DiagnosticReport, Observation and Specimen shapes), so R4 lab bundles validate unchanged, whereas the R5
models reject valid R4 content. Pydantic checks structure and types; the required code bindings it does
not check (gender, statuses) are checked here, so a bad code is an error with a path, not a silent ''.
"""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError

from .hl7v2 import _CJK, exclusion_reason

from .model import (
    CRITICAL_FLAGS,
    NORMAL_FLAGS,
    ExcludedObservation,
    LabMessage,
    LabPatient,
    LabReport,
    LabResult,
    PatientIdentifier,
    storable_number,
    storable_range,
)
from .ranges import bounds_for, parse_reference_range
from .specimens import specimen_text

FHIR_VERSION_LABEL = "FHIR R4 (validated with fhir.resources.R4B)"


class FHIRBundleError(ValueError):
    """A bundle we cannot accept; `path` points at the offending element, e.g. entry[2].resource.status."""

    def __init__(self, reason: str, path: str = "", errors: list[tuple[str, str]] | None = None):
        super().__init__(f"{path}: {reason}" if path else reason)
        self.reason = reason
        self.path = path
        self.errors = errors or [(path, reason)]  # every problem pydantic found, as (path, message)


# FHIR statuses mapped onto the HL7 v2 codes the model uses (OBX-11 / OBR-25).
_OBSERVATION_STATUS = {"registered": "I", "preliminary": "P", "final": "F", "amended": "C", "corrected": "C",
                       "cancelled": "X", "entered-in-error": "W", "unknown": ""}
_REPORT_STATUS = {"registered": "I", "partial": "A", "preliminary": "P", "final": "F", "amended": "C",
                  "corrected": "C", "appended": "C", "cancelled": "X", "entered-in-error": "X", "unknown": ""}
_GENDER = {"male": "M", "female": "F", "other": "O", "unknown": "U"}
# SNOMED CT codes used in referenceRange.appliesTo for sex-specific ranges.
_SEX_CODES = {"248153007": "M", "248152002": "F"}
_LOINC = "http://loinc.org"


def _path(loc: tuple) -> str:
    out = ""
    for part in loc:
        if part == "root":  # pydantic's name for a model's own value adds nothing to the path
            continue
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _load(data: bytes | str | Mapping[str, Any]) -> dict:
    if isinstance(data, Mapping):
        return dict(data)
    try:
        # parse_float=Decimal keeps "6.20" as written; a float would print 6.2.
        obj = json.loads(data.decode("utf-8-sig") if isinstance(data, (bytes, bytearray)) else data,
                         parse_float=Decimal)
    except ValueError as err:
        # JSONDecodeError, UnicodeDecodeError, and an integer past Python's 4300-digit conversion limit.
        raise FHIRBundleError(f"not JSON: {err}", "$") from err
    if not isinstance(obj, dict):
        raise FHIRBundleError("a Bundle must be a JSON object", "$")
    return obj


def _check_resource_types(obj: dict) -> None:
    if obj.get("resourceType") != "Bundle":
        raise FHIRBundleError(f"resourceType is {obj.get('resourceType')!r}, expected 'Bundle'",
                              "resourceType")
    entries = obj.get("entry") or []
    if not isinstance(entries, list):
        raise FHIRBundleError("entry must be a list", "entry")
    for i, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            continue  # pydantic reports the shape error with its path
        rtype = resource.get("resourceType")
        try:
            get_fhir_model_class(str(rtype))
        except Exception:  # fhir.resources raises KeyError or ValueError for unknown names
            raise FHIRBundleError(f"unknown resourceType {rtype!r}", f"entry[{i}].resource.resourceType")


def parse_fhir_bundle(data: bytes | str | Mapping[str, Any]) -> LabMessage:
    """Validate an R4 Bundle (bytes, str or dict) and map its lab content onto a LabMessage."""
    try:
        return _parse(data)
    except RecursionError as err:
        # The json module, pydantic and fhir.resources all recurse per nesting level, so "[[[[..." or
        # extensions a few hundred deep exhaust the stack: that is a bad bundle (422), not a server error.
        raise FHIRBundleError("nested too deeply to read", "$") from err


def _parse(data: bytes | str | Mapping[str, Any]) -> LabMessage:
    obj = _load(data)
    _check_resource_types(obj)
    try:
        bundle = Bundle.model_validate(obj)
    except ValidationError as err:
        errors = [(_path(e["loc"]), e["msg"]) for e in err.errors()]
        raise FHIRBundleError(errors[0][1], errors[0][0], errors) from err

    resources: dict[str, Any] = {}
    ordered: list[tuple[int, Any]] = []
    for i, entry in enumerate(bundle.entry or []):
        res = entry.resource
        if res is None:
            continue
        ordered.append((i, res))
        if entry.fullUrl:
            resources[str(entry.fullUrl)] = res
        if res.id:
            resources[f"{res.get_resource_type()}/{res.id}"] = res
    _check_bindings(ordered)

    patients = [(i, r) for i, r in ordered if r.get_resource_type() == "Patient"]
    if len(patients) != 1:
        raise FHIRBundleError(f"expected exactly one Patient, found {len(patients)}", "entry")
    patient = _patient(patients[0][1])

    reports: list[LabReport] = []
    warnings: list[str] = []
    used: set[int] = set()
    for i, res in ordered:
        if res.get_resource_type() != "DiagnosticReport":
            continue
        report = _report(res, resources)
        for j, ref in enumerate(res.result or []):
            obs = _resolve(ref, resources)
            if obs is None or obs.get_resource_type() != "Observation":
                raise FHIRBundleError(
                    f"result reference {ref.reference!r} is not an Observation in this bundle",
                    f"entry[{i}].resource.result[{j}]")
            used.add(id(obs))
            _add_observation(report, obs, patient, resources, str(j + 1), warnings)
        reports.append(report)
    loose = [r for _, r in ordered if r.get_resource_type() == "Observation" and id(r) not in used]
    member_ids = {id(_resolve(m, resources)) for _, r in ordered if r.get_resource_type() == "Observation"
                  for m in (r.hasMember or [])}
    loose = [o for o in loose if id(o) not in member_ids]
    if loose:
        # Observations no DiagnosticReport lists still are results; they share one report without a panel.
        report = LabReport()
        for k, obs in enumerate(loose, 1):
            _add_observation(report, obs, patient, resources, str(k), warnings)
        reports.append(report)
    if not reports:
        raise FHIRBundleError("no DiagnosticReport or Observation: no results to store", "entry")

    return LabMessage(
        sending_app=str(bundle.meta.source) if bundle.meta and bundle.meta.source else "",
        sending_facility="",
        control_id=(bundle.identifier.value if bundle.identifier and bundle.identifier.value
                    else bundle.id or ""),
        version=FHIR_VERSION_LABEL, encoding="utf-8", encoding_reason="JSON is UTF-8 (RFC 8259)",
        patient=patient, reports=reports, message_type=f"Bundle/{bundle.type}",
        sent_at=_when(bundle.timestamp), warnings=warnings,
    )


def _check_bindings(ordered: list[tuple[int, Any]]) -> None:
    for i, res in ordered:
        rtype = res.get_resource_type()
        if rtype == "Patient" and res.gender is not None and res.gender not in _GENDER:
            raise FHIRBundleError(f"gender {res.gender!r} is not one of {sorted(_GENDER)}",
                                  f"entry[{i}].resource.gender")
        if rtype == "Observation" and res.status not in _OBSERVATION_STATUS:
            raise FHIRBundleError(f"status {res.status!r} is not an Observation status",
                                  f"entry[{i}].resource.status")
        if rtype == "DiagnosticReport" and res.status not in _REPORT_STATUS:
            raise FHIRBundleError(f"status {res.status!r} is not a DiagnosticReport status",
                                  f"entry[{i}].resource.status")


def _resolve(ref, resources: dict[str, Any]):
    if ref is None or not ref.reference:
        return None
    return resources.get(str(ref.reference))


def _when(value) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    return None


def _coding(concept) -> tuple[str, str, str]:
    """(code, name, system) of a CodeableConcept, preferring a LOINC coding."""
    if concept is None:
        return "", "", ""
    codings = concept.coding or []
    best = next((c for c in codings if c.system == _LOINC), codings[0] if codings else None)
    code = best.code if best and best.code else ""
    system = str(best.system) if best and best.system else ""
    name = concept.text or (best.display if best and best.display else "") or code
    return code, name, system


def _display(ref, resources: dict[str, Any]) -> str:
    """A person's name from a reference: the resolved Practitioner's name, else the reference display."""
    target = _resolve(ref, resources)
    if target is not None and getattr(target, "name", None):
        names = target.name if isinstance(target.name, list) else []
        if names:
            return _human_name(names[0])
    return ref.display or "" if ref is not None else ""


def _human_name(name) -> str:
    if name.text:
        return name.text
    parts = [name.family or ""] + list(name.given or [])
    parts = [p for p in parts if p]
    return "".join(parts) if any(_CJK.search(p) for p in parts) else " ".join(parts)


def _patient(res) -> LabPatient:
    identifiers = []
    for ident in res.identifier or []:
        if not ident.value:
            continue
        type_code = ""
        if ident.type and ident.type.coding:
            type_code = ident.type.coding[0].code or ""
        authority = str(ident.system) if ident.system else (
            ident.assigner.display if ident.assigner else "") or ""
        identifiers.append(PatientIdentifier(ident.value, type_code, authority, "Patient.identifier"))
    ideographic = alphabetic = ""
    for name in res.name or []:
        text = _human_name(name)
        if _CJK.search(text):
            ideographic = ideographic or text
        elif text:
            alphabetic = alphabetic or text
    birth = res.birthDate if isinstance(res.birthDate, dt.date) else None
    sex = _GENDER.get(res.gender or "", "U")
    return LabPatient(identifiers, ideographic or alphabetic, alphabetic, birth, sex)


def _report(res, resources) -> LabReport:
    code, name, system = _coding(res.code)
    placer = ""
    for ref in res.basedOn or []:
        if ref.identifier and ref.identifier.value:
            placer = ref.identifier.value
            break
        target = _resolve(ref, resources)
        if target is not None and getattr(target, "identifier", None):
            placer = target.identifier[0].value or ""
            break
    specimen_type = ""
    received = collected = None
    for ref in res.specimen or []:
        spec = _resolve(ref, resources)
        if spec is not None and spec.get_resource_type() == "Specimen":
            kind, display, kind_system = _coding(spec.type)
            specimen_type = specimen_text(kind, spec.type.text if spec.type else "", kind_system, display)
            received = _when(spec.receivedTime)
            if spec.collection is not None:
                collected = _when(spec.collection.collectedDateTime)
            break
    return LabReport(
        placer_no=placer,
        filler_no=res.identifier[0].value if res.identifier and res.identifier[0].value else "",
        panel_code=code, panel_name=name, panel_coding_system=system,
        specimen_type=specimen_type,
        collected_at=_when(res.effectiveDateTime) or (
            _when(res.effectivePeriod.start) if res.effectivePeriod else None) or collected,
        specimen_received_at=received,
        reported_at=_when(res.issued),
        status=_REPORT_STATUS[res.status],
        tester=_display(res.performer[0], resources) if res.performer else "",
        reviewer=_display(res.resultsInterpreter[0], resources) if res.resultsInterpreter else "",
        # The lab's words on the whole report, as an NTE after OBR is in HL7 v2.
        comments=[res.conclusion.strip()] if res.conclusion and res.conclusion.strip() else [],
    )


def _notes(obs) -> list[str]:
    """Observation.note[].text, the FHIR home of what HL7 v2 sends as NTE after the OBX."""
    return [n.text.strip() for n in obs.note or [] if n.text and n.text.strip()]


def _quantity_text(q) -> str:
    return f"{q.comparator or ''}{q.value}" if q is not None and q.value is not None else ""


def _value(obs) -> tuple[str, str, Decimal | None, str, str, str]:
    """(value_type, value_text, value_num, comparator, unit, value_code) in HL7 v2 terms."""
    if obs.valueQuantity is not None:
        q = obs.valueQuantity
        num = Decimal(str(q.value)) if q.value is not None else None
        return ("SN" if q.comparator else "NM", _quantity_text(q), num, q.comparator or "",
                q.unit or q.code or "", "")
    if obs.valueInteger is not None:
        return "NM", str(obs.valueInteger), Decimal(obs.valueInteger), "", "", ""
    if obs.valueString is not None:
        return "ST", obs.valueString, None, "", "", ""
    if obs.valueCodeableConcept is not None:
        code, name, _ = _coding(obs.valueCodeableConcept)
        return "CWE", name or code, None, "", "", code
    if obs.valueBoolean is not None:
        return "ST", "true" if obs.valueBoolean else "false", None, "", "", ""
    if obs.valueRatio is not None:
        r = obs.valueRatio
        return "SN", f"{_quantity_text(r.numerator)}:{_quantity_text(r.denominator)}", None, "", "", ""
    if obs.valueRange is not None:
        r = obs.valueRange
        unit = (r.low.unit if r.low else None) or (r.high.unit if r.high else None) or ""
        return "SN", f"{_quantity_text(r.low)}-{_quantity_text(r.high)}", None, "", unit, ""
    if obs.valueSampledData is not None:
        return "ED", obs.valueSampledData.data or "", None, "", "", ""
    if obs.valueDateTime is not None or obs.valueTime is not None or obs.valuePeriod is not None:
        return "ST", str(obs.valueDateTime or obs.valueTime or obs.valuePeriod), None, "", "", ""
    return "ST", "", None, "", "", ""


def _range_sex(rr) -> str:
    return next((sex for concept in rr.appliesTo or [] if (sex := _range_sex_of(concept))), "")


def _range_sex_of(concept) -> str:
    for coding in concept.coding or []:
        if coding.code in _SEX_CODES:
            return _SEX_CODES[coding.code]
    text = (concept.text or "").strip().lower()
    if text in ("male", "男", "男性"):
        return "M"
    if text in ("female", "女", "女性"):
        return "F"
    return ""


_AGE_UNITS = {"a": "y", "mo": "mo", "wk": "wk", "d": "d"}  # UCUM codes of ages -> ranges' words


def _range_label(rr) -> str:
    """Whom a referenceRange is for, as a range text names it: "18-64 y M", "M", "成人" ("" for everyone)."""
    parts = []
    if rr.age is not None:
        low, high = rr.age.low, rr.age.high
        quantity = low if low is not None and low.value is not None else high
        unit = _AGE_UNITS.get(quantity.code or "", quantity.unit or "y") if quantity is not None else "y"
        if low is not None and low.value is not None and high is not None and high.value is not None:
            parts.append(f"{low.value}-{high.value} {unit}")
        elif low is not None and low.value is not None:
            parts.append(f">={low.value} {unit}")
        elif high is not None and high.value is not None:
            parts.append(f"<={high.value} {unit}")
    sex = _range_sex(rr)
    if sex:
        parts.append(sex)
    parts += [c.text.strip() for c in rr.appliesTo or [] if c.text and c.text.strip() and not _range_sex_of(c)]
    return " ".join(parts)


def _range_text(rr) -> str:
    if rr.text:
        return rr.text
    low = rr.low.value if rr.low is not None else None
    high = rr.high.value if rr.high is not None else None
    if low is not None and high is not None:
        return f"{low}-{high}"
    if high is not None:
        return f"<={high}"
    if low is not None:
        return f">={low}"
    return ""


def _bounds(rr, sex: str) -> tuple[Decimal | None, Decimal | None]:
    low = rr.low.value if rr.low is not None else None
    high = rr.high.value if rr.high is not None else None
    if low is None and high is None and rr.text:
        parsed = parse_reference_range(rr.text, sex)
        return parsed.low, parsed.high
    return (Decimal(str(low)) if low is not None else None, Decimal(str(high)) if high is not None else None)


def _add_observation(report: LabReport, obs, patient: LabPatient, resources, set_id: str,
                     warnings: list[str], panels: tuple[int, ...] = ()) -> None:
    members = [_resolve(m, resources) for m in obs.hasMember or []]
    for k, member in enumerate(members):
        if member is None or member.get_resource_type() != "Observation":
            raise FHIRBundleError(f"hasMember reference {obs.hasMember[k].reference!r} is not an Observation "
                                  "in this bundle", f"Observation/{obs.id}.hasMember[{k}]")
    if members and obs.valueQuantity is None and obs.valueString is None and obs.valueCodeableConcept is None:
        # A panel Observation carries no value of its own: its members are the results, and its notes speak
        # of them all, so they are the report's.
        report.comments.extend(_notes(obs))
        for k, member in enumerate(members):
            if member is obs or id(member) in panels:  # expanding it would never end
                raise FHIRBundleError(f"hasMember reference {obs.hasMember[k].reference!r} is this panel or "
                                      "one that contains it", f"Observation/{obs.id}.hasMember[{k}]")
            _add_observation(report, member, patient, resources, f"{set_id}.{k + 1}", warnings,
                             panels + (id(obs),))
        return
    code, name, system = _coding(obs.code)
    value_type, value_text, value_num, comparator, unit, value_code = _value(obs)
    ranges = obs.referenceRange or []
    by_sex: dict[str, str] = {}
    if any(_range_label(rr) for rr in ranges):
        # Ranges for some sexes or ages: one text with a band each ("M:130-175; F:115-150", "18-64 y M:
        # 4.6-5.4; ..."), read as an HL7 range text is (ranges.bounds_for: the sex only here; intake
        # chooses again for the resident, by sex and age).
        range_text = "; ".join(f"{_range_label(rr)}:{_range_text(rr)}" if _range_label(rr) else _range_text(rr)
                               for rr in ranges)
        low, high = bounds_for(range_text, patient.sex, None, None)
        sexes = [_range_sex(rr) for rr in ranges]
        if all(sexes) and len(set(sexes)) == len(sexes) and not any(rr.age for rr in ranges):
            by_sex = {_range_sex(rr): _range_text(rr) for rr in ranges}
    else:
        chosen = ranges[0] if ranges else None
        range_text = _range_text(chosen) if chosen is not None else ""
        low, high = _bounds(chosen, patient.sex) if chosen is not None else (None, None)
    flags = [c.code.upper() for concept in obs.interpretation or [] for c in concept.coding or [] if c.code]
    reason = exclusion_reason(value_type, code, name, value_text, unit, range_text, flags)
    if reason:
        report.excluded.append(ExcludedObservation(set_id, value_type, code, name, value_text, reason))
        # As hl7v2 does with an NTE after such an OBX: shown on the report, never lost, never on another row.
        report.comments.extend(_notes(obs))
        return
    where = f"Observation/{obs.id}" if obs.id else f"Observation {set_id}"
    value_num = storable_number(value_num, f"{where}: value", warnings)
    low, high = storable_range(low, high, f"{where}: referenceRange", warnings)
    if not report.tester and obs.performer:
        report.tester = _display(obs.performer[0], resources)
    report.results.append(LabResult(
        set_id=set_id, code=code, name=name, coding_system=system, value_type=value_type,
        value_text=value_text, value_num=value_num, comparator=comparator, unit=unit,
        range_text=range_text, range_low=low, range_high=high, flags=flags,
        critical=any(f in CRITICAL_FLAGS for f in flags),
        abnormal=any(f not in NORMAL_FLAGS for f in flags),
        status=_OBSERVATION_STATUS[obs.status],
        observed_at=_when(obs.effectiveDateTime) or (
            _when(obs.effectivePeriod.start) if obs.effectivePeriod else None) or report.collected_at,
        value_code=value_code, range_by_sex=by_sex,
        observer=_display(obs.performer[0], resources) if obs.performer else "",
        comments=_notes(obs),
    ))
