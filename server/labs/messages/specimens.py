"""Specimen types in words: the text a report prints for a specimen code sent without its text.

A lab sends the specimen as a coded element (HL7 v2 OBR-15.1 / SPM-4, FHIR Specimen.type): code, text,
coding system. The text is what a doctor reads ("血清"); when the sender gave only the code ("SER",
"122554006"), the code is looked up here, and a code we do not know is kept as sent (a bare code on paper
beats an empty line: the lab can still be asked what it means).

Two small tables, the codes community labs actually send, not whole code systems:
- HL7 v2 specimen codes: table 0487 (Specimen Type: SPM-4 from v2.5, FHIR's
  http://terminology.hl7.org/CodeSystem/v2-0487) and table 0070 (Source of Specimen: OBR-15.1 in v2.3 and
  v2.4, which senders still fill), the same code meaning the same specimen where both have it;
- SNOMED CT specimen concepts (the "(specimen)" hierarchy), which FHIR senders and v2.5+ SPM-4 use.

Checked 2026-12 against (each entry names the term it was checked against):
- table 0487 and 0070, v2.8.2, as FHIR publishes them (ValueSet v2-0487 and v2-0070; read in the
  GinoCanessa/fhir-cross-version-source listing docs/R2/ValueSets/V2SpecimenType.md and
  V2SpecimenSourceCodes.md). BLDC (capillary blood) and THRT (throat) are 0070 codes only; 0487 has no
  capillary-blood or throat code. URC is "urine clean catch" (清洁中段尿), not any midstream urine (URINM).
- SNOMED CT International 2022-07-31, in HL7 IPS's ValueSet "Results Specimen Type - SNOMED CT IPS Free Set"
  (HL7/fhir-ips input/fsh/valuesets/ResultsSpecimenTypeSnomedCtIpsFreeSet.fsh, expansion of
  < 123038009 |Specimen|): all eleven codes below are there with the meanings given.
"""
from __future__ import annotations

# HL7 v2 table 0487 (and 0070: BLDC, THRT): code -> Chinese text as Chinese lab reports print it.
HL7_0487 = {
    "BLD": "全血",  # Whole blood
    "WB": "全血",  # Blood, Whole
    "BLDA": "动脉血",  # Blood arterial
    "BLDC": "末梢血",  # Blood capillary (0070)
    "BLDV": "静脉血",  # Blood venous
    "BLDCO": "脐带血",  # Cord blood
    "SER": "血清",  # Serum
    "PLAS": "血浆",  # Plasma
    "UR": "尿液",  # Urine
    "URC": "清洁中段尿",  # Urine clean catch
    "URINM": "中段尿",  # Urine, Midstream
    "STL": "粪便",  # Stool = Fecal
    "CSF": "脑脊液",  # Cerebral spinal fluid
    "SPT": "痰",  # Sputum
    "SAL": "唾液",  # Saliva
    "THRT": "咽拭子",  # Throat (0070); a throat specimen at a clinic is a swab
    "PLR": "胸水",  # Pleural fluid (thoracentesis fluid)
}

# SNOMED CT specimen concepts: code -> Chinese text (the SNOMED CT preferred term beside each).
SNOMED_SPECIMENS = {
    "119297000": "血液",  # Blood specimen
    "258580003": "全血",  # Whole blood specimen
    "122555007": "静脉血",  # Venous blood specimen
    "122554006": "末梢血",  # Capillary blood specimen
    "122552005": "动脉血",  # Arterial blood specimen
    "119364003": "血清",  # Serum specimen
    "119361006": "血浆",  # Plasma specimen
    "122575003": "尿液",  # Urine specimen
    "119339001": "粪便",  # Stool specimen
    "119334006": "痰",  # Sputum specimen
    "258450006": "脑脊液",  # Cerebrospinal fluid specimen
}

_SNOMED_SYSTEMS = {"SCT", "SNM", "SNOMED", "SNOMEDCT", "SNOMED-CT", "HTTP://SNOMED.INFO/SCT"}


def specimen_text(code: str, text: str = "", system: str = "", display: str = "") -> str:
    """The specimen as a doctor reads it: the sender's text, else the code's Chinese text from our tables,
    else the code system's display (FHIR coding.display, English), else the code as sent ('' for nothing)."""
    code, text = (code or "").strip(), (text or "").strip()
    if text:
        return text
    if not code:
        return (display or "").strip()
    if (system or "").strip().upper() in _SNOMED_SYSTEMS or code.isdigit():
        known = SNOMED_SPECIMENS.get(code)  # SNOMED identifiers are all digits, table 0487 codes letters
    else:
        known = HL7_0487.get(code.upper())
    return known or (display or "").strip() or code
