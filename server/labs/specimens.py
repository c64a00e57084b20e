"""Specimen types in words: the text a report prints for a specimen code sent without its text.

A lab sends the specimen as a coded element (HL7 v2 OBR-15.1 / SPM-4, FHIR Specimen.type): code, text,
coding system. The text is what a doctor reads ("血清"); when the sender gave only the code ("SER",
"122554006"), the code is looked up here, and a code we do not know is kept as sent (a bare code on paper
beats an empty line: the lab can still be asked what it means).

Two small tables, the codes community labs actually send, not whole code systems:
- HL7 v2 table 0487 (Specimen Type), also FHIR's http://terminology.hl7.org/CodeSystem/v2-0487;
- SNOMED CT specimen concepts (the "(specimen)" hierarchy), which FHIR senders and v2.5+ SPM-4 use.
"""
from __future__ import annotations

# HL7 v2 table 0487: code -> Chinese text as Chinese lab reports print it.
HL7_0487 = {
    "BLD": "全血", "BLDA": "动脉血", "BLDC": "末梢血", "BLDV": "静脉血", "BLDCO": "脐带血",
    "SER": "血清", "PLAS": "血浆", "UR": "尿液", "URC": "中段尿", "STL": "粪便", "CSF": "脑脊液",
    "SPT": "痰", "SAL": "唾液", "THRT": "咽拭子", "PLR": "胸水", "WB": "全血",
}

# SNOMED CT specimen concepts: code -> Chinese text.
SNOMED_SPECIMENS = {
    "119297000": "血液",  # Blood specimen
    "258580003": "全血",  # Whole blood sample
    "122555007": "静脉血",  # Venous blood specimen
    "122554006": "末梢血",  # Capillary blood specimen
    "122552005": "动脉血",  # Arterial blood specimen
    "119364003": "血清",  # Serum specimen
    "119361006": "血浆",  # Plasma specimen
    "122575003": "尿液",  # Urine specimen
    "119339001": "粪便",  # Stool specimen
    "119334006": "痰",  # Sputum specimen
    "258450006": "脑脊液",  # Cerebrospinal fluid sample
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
