"""HL7 v2 ORU^R01 lab results: bytes in, LabMessage out, and the ACK to send back.

Structure is split by python-hl7 (`hl7.parse`); this module adds what it leaves to the caller:
choosing the character set, segment separators other than CR, escape sequences in the message's own
character set, and the mapping of PID/OBR/OBX/SPM fields onto the plain dataclasses in `model`.

Choices worth knowing:
- Character set: the per-facility setting (matched on MSH-4), else MSH-18 if it names a codec and the
  bytes decode cleanly (a single-byte MSH-18 such as 8859/1 is overruled when the bytes are valid UTF-8
  or GB18030 ideographs, a GBK/GB18030 one when they are UTF-8 ideographs), else valid UTF-8, else GB18030.
  `LabMessage.encoding_reason` says which. The facility setting is the staff's override and is not
  second-guessed: it is how a sender whose bytes fool the detection is read right.
- Times are naive datetimes in the sender's local time unless the message carries an offset.
- OBX-14 empty: the result's time is the panel's OBR-7. OBX-11 empty: OBR-25 when it is F/P/C/X/I/R.
- Tester is OBR-34 (technician), else the first OBX-16; reviewer is OBR-32, else OBR-33.
- Names are family name first: "张三" for ideographic names, "ZHANG SAN" / "DUCK DONALD D" otherwise.
- Which OBX rows are results: see `exclusion_reason`.
- NTE (notes and comments; NTE-3, repetitions as lines) belongs to the segment before it: after an OBX to
  that result (LabResult.comments: "标本溶血，结果仅供参考" is how a high potassium must be read), after an
  OBR, its SPM or an ORC to the report (LabReport.comments), after PID to the patient, which is not kept (the
  resident's file is the record of the person). After an OBX that is not a result (an instrument setting, an
  empty remark) it goes to the report, never to the result before that row, which it does not speak of; a
  remark shown on the report costs less than one lost (noted in `warnings`). Empty NTEs are skipped.
- Whatever is tolerated (bad timestamps, unescaped "^" in units, raw line breaks in text, non-numeric NM,
  numbers the result columns cannot hold, kept as text) is listed in `LabMessage.warnings`; whatever is
  refused raises HL7MessageError with ACK codes.
"""
from __future__ import annotations

import codecs
import datetime as dt
import re
import unicodedata
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

import hl7
from hl7.exceptions import ParseException

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
from .ranges import ReferenceRange, parse_reference_range  # noqa: F401 (parse_reference_range: a public name here)
from .specimens import specimen_text

# --------------------------------------------------------------------------------------------------
# Errors and the message header


class HL7MessageError(ValueError):
    """An inbound message we cannot accept; carries what an ACK needs (MSA-1 code, ERR-3 code, location)."""

    def __init__(self, reason: str, *, ack_code: str = "AE", error_code: str = "207",
                 location: str = "", header: MessageHeader | None = None):
        super().__init__(reason)
        self.reason = reason
        self.ack_code = ack_code  # AR: the message itself is unacceptable; AE: its content is in error
        self.error_code = error_code  # HL7 table 0357, e.g. 100 segment sequence, 101 required field missing
        self.location = location  # "SEG^seq^field", as ERR-2 / ERR-1 expects
        self.header = header  # what was readable of MSH, so the ACK can still be addressed


# HL7 table 0357 texts, for ERR-3.2.
ERROR_TEXTS = {
    "0": "Message accepted",
    "100": "Segment sequence error",
    "101": "Required field missing",
    "102": "Data type error",
    "103": "Table value not found",
    "200": "Unsupported message type",
    "201": "Unsupported event code",
    "202": "Unsupported processing id",
    "203": "Unsupported version id",
    "207": "Application internal error",
}


@dataclass
class MessageHeader:
    """The MSH fields an ACK is built from."""

    sending_app: str = ""
    sending_facility: str = ""
    receiving_app: str = ""
    receiving_facility: str = ""
    message_type: str = ""
    trigger: str = ""
    control_id: str = ""
    processing_id: str = "P"
    version: str = "2.5"
    charset_declared: str = ""
    encoding: str = "utf-8"


# --------------------------------------------------------------------------------------------------
# Character set

# HL7 table 0211 values, plus spellings hospital systems actually put in MSH-18.
_HL7_CHARSETS = {
    "ASCII": "ascii",
    "8859/1": "latin-1",
    "8859/2": "iso8859-2",
    "8859/5": "iso8859-5",
    "8859/7": "iso8859-7",
    "8859/15": "iso8859-15",
    "GB 18030-2000": "gb18030",
    "GB18030": "gb18030",
    "GBK": "gbk",
    "GB2312": "gb2312",
    "BIG-5": "big5",
    "KS X 1001": "euc-kr",
    # Table 0211 "UNICODE" predates the UTF-x values; in byte-oriented feeds (MLLP) it is UTF-8 in practice.
    "UNICODE": "utf-8",
    "UNICODE UTF-8": "utf-8",
    "UTF-8": "utf-8",
    "UTF8": "utf-8",
}
# Codecs in which every byte string decodes, so "decodes cleanly" proves nothing about them.
_SINGLE_BYTE = {"latin-1", "iso8859-2", "iso8859-5", "iso8859-7", "iso8859-15", "cp1252"}
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def _codec_for_charset(declared: str) -> str | None:
    """Python codec for an MSH-18 value, or None when it names nothing we can decode bytes with."""
    key = declared.strip().upper()
    if not key:
        return None
    if key in _HL7_CHARSETS:
        return _HL7_CHARSETS[key]
    try:
        name = codecs.lookup(key).name
    except LookupError:
        return None
    # UTF-16/32 would not have let us read MSH at all; refuse rather than mis-decode.
    return None if name.startswith(("utf-16", "utf-32")) else name


def _decodes(raw: bytes, codec: str) -> str | None:
    try:
        return raw.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _msh_fields_raw(raw: bytes) -> list[bytes]:
    """MSH fields as bytes (index n = MSH-n), read before we know the character set."""
    first = re.split(rb"\r\n|\r|\n", raw, maxsplit=1)[0]
    if len(first) < 8 or not first.startswith(b"MSH"):
        return []
    sep = first[3:4]
    parts = first.split(sep)
    # parts[0] is "MSH", parts[1] the encoding characters (MSH-2); MSH-1 is the separator itself.
    return [b"MSH", sep] + parts[1:]


def choose_encoding(raw: bytes, facility_encodings: Mapping[str, str] | None = None) -> tuple[str, str, str]:
    """Decode message bytes; returns (text, codec, reason): facility setting, else MSH-18, else detection."""
    fields = _msh_fields_raw(raw)
    facility = fields[4].split(b"^")[0].strip() if len(fields) > 4 else b""
    declared = fields[18].split(b"~")[0].decode("ascii", "replace").strip() if len(fields) > 18 else ""
    notes = []

    for name, codec in (facility_encodings or {}).items():
        # Compare in bytes: the facility name itself may be in the very charset we are looking for.
        try:
            matches = facility and name.encode(codec) == facility
        except (UnicodeEncodeError, LookupError):
            matches = False
        if matches:
            text = _decodes(raw, codec)
            if text is not None:
                return text, codec, f"facility setting for {name}"
            notes.append(f"facility setting {codec} for {name} did not decode cleanly")

    if declared:
        codec = _codec_for_charset(declared)
        if codec is None:
            notes.append(f"MSH-18 {declared!r} is not a known charset")
        else:
            text = _decodes(raw, codec)
            if text is None:
                notes.append(f"MSH-18 {declared!r} does not decode these bytes")
            elif codec in _SINGLE_BYTE and not raw.isascii():
                # A single-byte declaration can never fail, so check the bytes are not really UTF-8/GB18030.
                as_utf8 = _decodes(raw, "utf-8")
                as_gb = _decodes(raw, "gb18030")
                if as_utf8 is not None:
                    notes.append(f"MSH-18 {declared!r} is single-byte but the bytes are valid UTF-8")
                elif as_gb is not None and _CJK.search(as_gb):
                    return as_gb, "gb18030", (f"MSH-18 {declared!r} is single-byte but the bytes decode "
                                              "as GB18030 ideographs")
                else:
                    return text, codec, f"MSH-18 {declared!r}"
            elif codec != "utf-8" and _CJK.search(_decodes(raw, "utf-8") or ""):
                # GBK/GB18030 decode UTF-8 bytes without error (生化 -> 鐢熷寲), and senders that moved to
                # UTF-8 keep a stale MSH-18. Genuine GBK is almost never valid UTF-8, and when a short run
                # is (a two-character name, ~3%), it reads as Latin/Cyrillic letters, not ideographs.
                notes.append(f"MSH-18 {declared!r} but the bytes are valid UTF-8 ideographs")
            else:
                return text, codec, f"MSH-18 {declared!r}"
    else:
        notes.append("no MSH-18")

    prefix = "; ".join(notes) + "; " if notes else ""
    text = _decodes(raw, "utf-8")
    if text is not None:
        return text, "utf-8", prefix + "bytes are valid UTF-8"
    text = _decodes(raw, "gb18030")
    if text is not None:
        return text, "gb18030", prefix + "bytes are not UTF-8, decoded as GB18030 (superset of GBK)"
    text = raw.decode("gb18030", errors="replace")
    bad = text.count("\ufffd")
    return text, "gb18030", (prefix + f"bytes are neither UTF-8 nor GB18030; "
                             f"{bad} undecodable sequences replaced")


# --------------------------------------------------------------------------------------------------
# Escapes, fields, timestamps


def unescape(value: str, separators: str, esc: str, encoding: str) -> str:
    """Decode HL7 escapes (F S T R E, .br as a newline, Xhh as bytes in the message's charset)."""
    if esc not in value:
        return value
    field_sep, comp_sep, rep_sep, sub_sep = separators[1], separators[3], separators[2], separators[4]
    simple = {"F": field_sep, "S": comp_sep, "T": sub_sep, "R": rep_sep, "E": esc,
              ".br": "\n", ".sp": "\n", "H": "", "N": ""}
    out = []
    i = 0
    while i < len(value):
        c = value[i]
        if c != esc:
            out.append(c)
            i += 1
            continue
        end = value.find(esc, i + 1)
        if end < 0:  # an unterminated escape is a literal backslash in practice (e.g. a Windows path)
            out.append(value[i:])
            break
        seq = value[i + 1:end]
        if seq in simple:
            out.append(simple[seq])
        elif seq[:1] == "X" and len(seq) > 1 and len(seq) % 2 == 1:
            # python-hl7 turns each byte into a code point; a UTF-8/GBK character spans several bytes.
            try:
                out.append(bytes.fromhex(seq[1:]).decode(encoding, errors="replace"))
            except ValueError:
                out.append(value[i:end + 1])
        elif seq[:3] in (".sp", ".sk", ".in", ".ti", ".fi", ".nf", ".ce") or seq[:1] in ("Z", "C", "M"):
            # Formatting, locally defined and charset-switch escapes carry no lab meaning for us.
            out.append("\n" if seq[:3] in (".sp", ".ce") else "")
        else:
            out.append(value[i:end + 1])
        i = end + 1
    return "".join(out)


def _tree(fld) -> list[list[list[str]]]:
    """A python-hl7 field as repetitions -> components -> subcomponents (still escaped)."""
    if isinstance(fld, str):
        return [[[fld]]]
    if len(fld) == 1 and isinstance(fld[0], str):
        return [[[fld[0]]]]
    reps = []
    for rep in fld:
        if isinstance(rep, str):
            reps.append([[rep]])
        elif len(rep) == 1 and isinstance(rep[0], str):
            reps.append([[rep[0]]])
        else:
            reps.append([[comp] if isinstance(comp, str) else [str(s) for s in comp] for comp in rep])
    return reps


class _Segment:
    """Read access to one segment's fields, unescaped, with 1-based HL7 numbering."""

    __slots__ = ("seg", "ctx", "name", "_cache")

    def __init__(self, seg, ctx: _Context):
        self.seg = seg
        self.ctx = ctx
        self.name = str(seg[0])
        self._cache: dict[int, list] = {}  # fields are read several times (get() per component)

    def reps(self, n: int) -> list[list[list[str]]]:
        """Field n unescaped as repetitions -> components -> subcomponents; [] when absent or empty."""
        if n in self._cache:
            return self._cache[n]
        if n >= len(self.seg):
            return []
        tree = _tree(self.seg[n])
        u = self.ctx.unescape
        result = [] if tree == [[[""]]] else [[[u(s) for s in comp] for comp in rep] for rep in tree]
        self._cache[n] = result
        return result

    def get(self, n: int, comp: int = 1, sub: int = 1, rep: int = 1) -> str:
        """One value, stripped; '' when absent."""
        reps = self.reps(n)
        try:
            return reps[rep - 1][comp - 1][sub - 1].strip()
        except IndexError:
            return ""

    def text(self, n: int) -> str:
        """The whole field as one string, separators restored, escapes decoded (for free-text fields)."""
        if n >= len(self.seg):
            return ""
        return self.ctx.unescape(str(self.seg[n])).strip()


@dataclass
class _Context:
    separators: str
    esc: str
    encoding: str
    warnings: list[str] = field(default_factory=list)

    def unescape(self, value: str) -> str:
        return unescape(value, self.separators, self.esc, self.encoding)


_TS = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.(\d{1,6}))?([+-]\d{4})?$")


def parse_hl7_time(value: str) -> dt.datetime | None:
    """HL7 DTM/TS 'YYYY[MM[DD[HH[MM[SS[.S]]]]]][+ZZZZ]' (or ISO-like '2025-01-15 12:00:00') -> datetime."""
    value = value.strip()
    if not value:
        return None
    if re.match(r"^\d{4}-\d{2}-\d{2}", value):
        value = re.sub(r"[-:\sT]", "", value)
    m = _TS.match(value)
    if not m:
        raise ValueError(f"not an HL7 timestamp: {value!r}")
    year, month, day, hour, minute, second, frac, tz = m.groups()
    tzinfo = None
    if tz:
        sign = 1 if tz[0] == "+" else -1
        tzinfo = dt.timezone(sign * dt.timedelta(hours=int(tz[1:3]), minutes=int(tz[3:5])))
    return dt.datetime(int(year), int(month or 1), int(day or 1), int(hour or 0), int(minute or 0),
                       int(second or 0), int((frac or "0").ljust(6, "0")), tzinfo=tzinfo)


def _time(seg: _Segment, n: int, ctx: _Context) -> dt.datetime | None:
    raw = seg.get(n)
    try:
        return parse_hl7_time(raw)
    except ValueError:
        ctx.warnings.append(f"{seg.name}-{n}: unreadable timestamp {raw!r} ignored")
        return None


def _decimal(text: str) -> Decimal | None:
    try:
        d = Decimal(text.strip())
    except (InvalidOperation, ValueError):
        return None
    return d if d.is_finite() else None


# --------------------------------------------------------------------------------------------------
# Which OBX rows are results

# LOINC codes for patient demographics that analysers send as OBX rows (Mindray sends Age as 30525-0).
_DEMOGRAPHIC_CODES = {"30525-0", "21612-7", "29553-5"}
_ENCAPSULATED_TYPES = {"ED", "RP", "AD"}
_TEXT_TYPES = {"ST", "TX", "FT", "IS", "CE", "CWE", "CNE"}
# Names of an analyser's settings and alerts (the shared analyser sample's Take Mode, Ref Group, Multiple
# alerts rows): what the instrument was set to, not what was found in the specimen.
_INSTRUMENT_SETTING = re.compile(
    r"(?<![A-Za-z])(mode|alert|message|ref(?:erence)?\s*group|flag|histogram|scattergram)s?(?![A-Za-z])"
    r"|模式|提示|报警|直方图|散点图",
    re.IGNORECASE)
# Remarks can carry what a doctor must know (备注 标本轻度溶血: a haemolysed specimen raises potassium), so
# only a remark that says nothing is left out, such as the analyser sample's Remark "Normal".
_REMARK = re.compile(r"(?<![A-Za-z])(remark|comment|note)s?(?![A-Za-z])|备注|说明", re.IGNORECASE)
_EMPTY_REMARKS = {"", "normal", "none", "-", "/", "无", "正常"}


def exclusion_reason(value_type: str, code: str, name: str, value_text: str, unit: str, range_text: str,
                     flags: list[str]) -> str:
    """Why an OBX row is not a lab result ('' when it is one).

    Rule, in order: encapsulated data (ED/RP/AD: histograms, images) is never a result; LOINC
    demographics (Age) are not results; anything with a unit, a range or an abnormal flag is a result
    (that is how qualitative results such as urine protein "阴性" arrive); a text-like row (ST/TX/FT/IS/CE/CWE)
    named like an instrument setting (mode, reference group, alert, flag) is not, nor is a remark or comment
    that says nothing ("Normal", empty). Everything else is kept, IS rows too: blood group A arrives as
    IS without unit or range, and a setting shown to a doctor costs less than a result hidden.
    """
    if value_type in _ENCAPSULATED_TYPES:
        return f"encapsulated data ({value_type}), e.g. a histogram: not a result"
    if code in _DEMOGRAPHIC_CODES:
        return "patient demographic sent as an observation: not a result"
    has_context = bool(unit or range_text or any(f not in NORMAL_FLAGS for f in flags))
    if has_context or value_type not in _TEXT_TYPES:
        return ""
    if _INSTRUMENT_SETTING.search(name):
        return f"instrument setting or alert ({value_type} named {name!r}): not a result"
    if _REMARK.search(name) and value_text.strip().lower() in _EMPTY_REMARKS:
        return f"empty remark ({value_type} named {name!r} reads {value_text.strip()!r}): not a result"
    return ""


# --------------------------------------------------------------------------------------------------
# Field mappings

_FLAG_ALIASES = {"↑": "H", "↓": "L", "↑↑": "HH", "↓↓": "LL", "高": "H", "偏高": "H", "低": "L", "偏低": "L",
                 "正常": "N"}
_SEX = {"M": "M", "MALE": "M", "男": "M", "1": "M", "F": "F", "FEMALE": "F", "女": "F", "2": "F",
        "O": "O", "OTHER": "O", "A": "O", "U": "U", "UNKNOWN": "U", "N": "U", "0": "U", "9": "U"}
_COMPARATORS = ("<=", ">=", "<>", "<", ">", "=")


def _person(comps: list[list[str]], nested: bool) -> str:
    """A person's name from an XCN (ID^family^given) or an NDL whose first component is ID&family&given."""
    parts = comps[0] if nested else [c[0] if c else "" for c in comps]
    parts = [p.strip() for p in parts] + [""] * 4
    ident, family, given, middle = parts[0], parts[1], parts[2], parts[3]
    name = _join_name(family, given, middle)
    return name or ident


def _join_name(*parts: str) -> str:
    parts = tuple(p.strip() for p in parts if p and p.strip())
    if any(_CJK.search(p) for p in parts):
        return "".join(parts)  # Chinese names are written family+given without a space
    return " ".join(parts)


def _patient(pid: _Segment, ctx: _Context) -> LabPatient:
    identifiers: list[PatientIdentifier] = []
    for n, source in ((3, "PID-3"), (2, "PID-2"), (4, "PID-4")):
        for rep in pid.reps(n):
            value = rep[0][0].strip()
            if not value:
                continue
            authority = rep[3] if len(rep) > 3 else [""]
            authority_name = next((s.strip() for s in authority if s.strip()), "")
            type_code = rep[4][0].strip() if len(rep) > 4 else ""
            identifiers.append(PatientIdentifier(value, type_code, authority_name, source))
    if pid.get(19):
        identifiers.append(PatientIdentifier(pid.get(19), "SS", "", "PID-19"))
    if pid.get(20):
        identifiers.append(PatientIdentifier(pid.get(20), "DL", pid.get(20, 2), "PID-20"))
    unique = list(dict.fromkeys(identifiers))

    ideographic = alphabetic = ""
    for rep in pid.reps(5):
        comps = [c[0] if c else "" for c in rep] + [""] * 8
        name = _join_name(comps[0], comps[1], comps[2])
        if not name:
            continue
        # XPN-8 name representation code: I ideographic, A alphabetic, P phonetic.
        if comps[7].strip().upper() == "I" or _CJK.search(name):
            ideographic = ideographic or name
        else:
            alphabetic = alphabetic or name

    birth = None
    birth_raw = pid.get(7)
    if birth_raw:
        try:
            birth = parse_hl7_time(birth_raw).date()
        except ValueError:
            ctx.warnings.append(f"PID-7: unreadable birth date {birth_raw!r} ignored")
    sex_raw = pid.get(8).upper()
    sex = _SEX.get(sex_raw, "U")
    if sex_raw and sex_raw not in _SEX:
        ctx.warnings.append(f"PID-8: unknown sex {sex_raw!r} read as U")
    return LabPatient(unique, ideographic or alphabetic, alphabetic, birth, sex)


def _coded(seg: _Segment, n: int) -> tuple[str, str, str]:
    """(code, text, coding system) of a CE/CWE field, falling back to the alternate triplet."""
    code, text, system = seg.get(n, 1), seg.get(n, 2), seg.get(n, 3)
    if not code and not text:
        code, text, system = seg.get(n, 4), seg.get(n, 5), seg.get(n, 6)
    return code, text, system


def _unit(obx: _Segment, ctx: _Context) -> str:
    reps = obx.reps(6)
    if not reps:
        return ""
    comps = [c[0].strip() if c else "" for c in reps[0]]
    # An unescaped "10^9/L" arrives split as CE code "10", text "9/L": put it back together.
    if len(comps) >= 2 and comps[0].isdigit() and comps[1][:1].isdigit():
        ctx.warnings.append(f"OBX-6 {'^'.join(comps)!r}: unescaped '^' in a unit read as 10^n")
        return comps[0] + "^" + comps[1]
    return comps[0] or (comps[1] if len(comps) > 1 else "")


def _value(obx: _Segment, value_type: str, ctx: _Context) -> tuple[str, Decimal | None, str, str]:
    """(value_text, value_num, comparator, value_code) of OBX-5 for its value type."""
    reps = obx.reps(5)
    if not reps:
        return "", None, "", ""
    if value_type == "SN" and len(reps[0]) > 1:
        comps = [c[0].strip() if c else "" for c in reps[0]] + ["", "", "", ""]
        comparator, num1, sep, num2 = comps[:4]
        text = f"{comparator}{num1}{sep}{num2}"
        # A ratio (1:128) or a range (2-5) has no single number; "^1^+" is "1+", a graded result.
        number = _decimal(num1) if not sep and not num2 else None
        return text, number, comparator, ""
    if value_type in ("CE", "CWE", "CNE"):
        codes = [(rep[0][0].strip(), rep[1][0].strip() if len(rep) > 1 else "") for rep in reps]
        return "; ".join(t or c for c, t in codes), None, "", codes[0][0]
    if value_type not in _TEXT_AS_SENT and any(len(rep) > 1 for rep in reps):
        return "; ".join(_composite_text(value_type, rep) for rep in reps), None, "", ""
    # NM, ST, TX, FT, IS, ...: repeats are lines of text.
    text = "\n".join(obx.ctx.unescape(_raw_rep(obx, 5, i)) for i in range(len(reps))).strip()
    if value_type not in ("NM", "SN"):  # an SN without components ("<0.5") reads like an NM
        return text, None, "", ""
    for op in _COMPARATORS:
        # Many analysers put "<0.5" or ">1000" into an NM field instead of using SN.
        if text.startswith(op) and _decimal(text[len(op):]) is not None:
            return text, _decimal(text[len(op):]), op, ""
    number = _decimal(text)
    if number is None and text:
        ctx.warnings.append(f"OBX-5 {text!r} is not a number although OBX-2 is {value_type}; kept as text")
    return text, number, "", ""


# Types whose value is one string: a "^" in them is the sender's unescaped character ("10^9/L" in an ST), kept.
_TEXT_AS_SENT = {"ST", "TX", "FT", "NM", "SN", "IS", "ID", "CE", "CWE", "CNE"}
# Person-name types and where their family and given names sit (0-based components).
_NAME_PARTS = {"FN": (0, 2, 1), "PN": (0, 1, 2), "XPN": (0, 1, 2), "CN": (1, 2, 3), "XCN": (1, 2, 3)}


def _composite_text(value_type: str, rep: list[list[str]]) -> str:
    """One repetition of a composite value (FN, XPN, MO, XAD, ...) as words, never with its separators.

    Names are family name first (Chinese names without a space, as in PID-5); FN is surname^own prefix^own
    surname^..., and an empty surname takes what the other parts carry ("^182" reads "182"). Money (MO) is
    amount and currency; anything else: its non-empty components (subcomponents too) joined by a space.
    """
    comps = [" ".join(s.strip() for s in comp if s.strip()) for comp in rep] + [""] * 4
    if value_type in _NAME_PARTS:
        a, b, c = _NAME_PARTS[value_type]
        rest = [p for i, p in enumerate(comps) if i not in (a, b, c) and p]
        return _join_name(comps[a], comps[b], comps[c], *(rest if value_type == "FN" else ()))
    return " ".join(p for p in comps if p)


def _raw_rep(seg: _Segment, n: int, index: int) -> str:
    fld = seg.seg[n]
    if len(fld) == 1 and isinstance(fld[0], str):
        return fld[0]
    return str(fld[index])


def _flags(obx: _Segment) -> list[str]:
    out = []
    for rep in obx.reps(8):
        flag = rep[0][0].strip()
        if flag:
            out.append(_FLAG_ALIASES.get(flag, flag.upper()))
    return out


# --------------------------------------------------------------------------------------------------
# The message


_SEGMENT_ID = re.compile(r"^[A-Z][A-Z0-9]{2}$")


def _split_segments(text: str, field_sep: str, ctx: _Context) -> list[str]:
    """Segments from text split on CR, LF or CRLF; a line that is not a segment continues the previous one."""
    segments: list[str] = []
    for line in re.split(r"\r\n|\r|\n", text):
        if not line.strip():
            continue
        head = line[:3]
        if _SEGMENT_ID.match(head) and (len(line) == 3 or line[3] == field_sep):
            segments.append(line)
        elif segments:
            # A raw line break inside free text (seen in LF-separated feeds): keep it as a newline.
            ctx.warnings.append(f"line break inside {segments[-1][:3]} kept as text")
            segments[-1] += "\n" + line
        else:
            raise HL7MessageError("text before the MSH segment", ack_code="AR", error_code="100")
    return segments


def read_header(raw: bytes, facility_encodings: Mapping[str, str] | None = None) -> MessageHeader | None:
    """Best-effort MSH of raw bytes (for an ACK when parsing fails); None when there is no MSH."""
    raw = raw.lstrip(b"\xef\xbb\xbf \t\r\n\x00")
    if not raw.startswith(b"MSH") or len(raw) < 8:
        return None
    text, codec, _ = choose_encoding(raw, facility_encodings)
    return _header_from_text(text, codec)


def _header_from_text(text: str, codec: str) -> MessageHeader:
    first = re.split(r"\r\n|\r|\n", text, maxsplit=1)[0]
    sep = first[3]
    enc_chars = first[4:].split(sep, 1)[0]
    comp = enc_chars[0] if enc_chars else "^"
    fields = ["MSH", sep] + first[4:].split(sep)

    def f(n: int) -> str:
        return fields[n].split(comp)[0].strip() if n < len(fields) else ""

    msg_type = fields[9].split(comp) if len(fields) > 9 else [""]
    return MessageHeader(
        sending_app=f(3), sending_facility=f(4), receiving_app=f(5), receiving_facility=f(6),
        message_type=msg_type[0].strip(), trigger=msg_type[1].strip() if len(msg_type) > 1 else "",
        control_id=f(10), processing_id=f(11) or "P", version=f(12) or "2.5",
        charset_declared=f(18), encoding=codec,
    )


def parse_oru(raw: bytes, facility_encodings: Mapping[str, str] | None = None) -> LabMessage:
    """Parse one HL7 v2 ORU^R01 message (raw bytes, any segment separator) into a LabMessage."""
    if not isinstance(raw, (bytes, bytearray)):
        raise TypeError("parse_oru takes the raw message bytes")
    raw = bytes(raw).lstrip(b"\xef\xbb\xbf \t\r\n\x00")  # BOM and stray leading whitespace
    if not raw.startswith(b"MSH") or len(raw) < 8:
        kind = "a batch (FHS/BHS)" if raw[:3] in (b"FHS", b"BHS") else "not an HL7 v2 message"
        raise HL7MessageError(f"{kind}: it must start with MSH", ack_code="AR", error_code="100")
    text, codec, reason = choose_encoding(raw, facility_encodings)
    header = _header_from_text(text, codec)
    try:
        return _parse(text, codec, reason, header)
    except HL7MessageError as err:
        err.header = err.header or header
        raise
    except (ParseException, IndexError, ValueError) as err:
        raise HL7MessageError(f"unreadable message: {err}", ack_code="AR", error_code="102",
                              header=header) from err


def _check_delimiters(text: str) -> None:
    """MSH-1 and MSH-2 must be distinct printable punctuation, or python-hl7 mis-splits (or asserts)."""
    field_sep = text[3]
    end = text.find(field_sep, 4)
    encoding_chars = text[4:end] if end > 0 else ""
    delimiters = field_sep + encoding_chars
    if (not 2 <= len(delimiters) <= 6 or len(set(delimiters)) != len(delimiters)
            or any(c.isalnum() or not c.isprintable() or c.isspace() for c in delimiters)):
        raise HL7MessageError(f"MSH-1/MSH-2 delimiters {delimiters!r} are not usable", ack_code="AR",
                              error_code="102", location="MSH^1^2")


def _parse(text: str, codec: str, reason: str, header: MessageHeader) -> LabMessage:
    _check_delimiters(text)
    field_sep = text[3]
    ctx = _Context("\r" + field_sep + "~^&", "\\", codec)
    segments = _split_segments(text, field_sep, ctx)
    if sum(1 for s in segments if s.startswith("MSH")) > 1:
        raise HL7MessageError("more than one MSH: send one message per frame", ack_code="AR",
                              error_code="100")
    msg = hl7.parse("\r".join(segments))
    ctx.separators, ctx.esc = msg.separators, msg.esc
    segs = [_Segment(s, ctx) for s in msg]
    msh = segs[0]

    if header.message_type != "ORU":
        raise HL7MessageError(f"message type {header.message_type or '(empty)'} is not ORU",
                              ack_code="AR", error_code="200", location="MSH^1^9")
    if header.trigger not in ("R01", ""):
        raise HL7MessageError(f"trigger event {header.trigger} is not R01", ack_code="AR",
                              error_code="201", location="MSH^1^9")
    if not header.control_id:
        raise HL7MessageError("MSH-10 message control id is missing", error_code="101",
                              location="MSH^1^10")
    if not msh.get(12).startswith("2"):
        raise HL7MessageError(f"version {msh.get(12) or '(empty)'} is not HL7 v2", ack_code="AR",
                              error_code="203", location="MSH^1^12")

    patient = None
    reports: list[LabReport] = []
    report_segs: dict[int, _Segment] = {}
    pending_orc: _Segment | None = None
    orc_notes: list[str] = []
    # Where the next NTE goes (see the module docstring); None: a note on the patient, or before any segment
    # that takes notes. `skipped`: the OBX before it was not a result (its NTE goes to the report).
    notes: list[str] | None = None
    skipped: ExcludedObservation | None = None
    counts: dict[str, int] = {}
    for seg in segs[1:]:
        counts[seg.name] = counts.get(seg.name, 0) + 1
        where = f"{seg.name}^{counts[seg.name]}"
        if seg.name == "PID":
            if patient is not None:
                raise HL7MessageError("more than one PID: one patient per message", error_code="100",
                                      location=where)
            patient = _patient(seg, ctx)
            notes, skipped = None, None
        elif seg.name == "ORC":
            pending_orc = seg
            orc_notes = []
            notes, skipped = orc_notes, None
        elif seg.name == "OBR":
            if patient is None:
                raise HL7MessageError("OBR before PID", error_code="100", location=where)
            reports.append(_report(seg, pending_orc, ctx))
            reports[-1].comments.extend(orc_notes)
            report_segs[id(reports[-1])] = seg
            pending_orc, orc_notes = None, []
            notes, skipped = reports[-1].comments, None
        elif seg.name == "OBX":
            if not reports:
                raise HL7MessageError("OBX before any OBR", error_code="100", location=where)
            result = _add_observation(reports[-1], report_segs[id(reports[-1])], seg, patient, where, ctx)
            notes = result.comments if result is not None else reports[-1].comments
            skipped = reports[-1].excluded[-1] if result is None else None
        elif seg.name == "SPM" and reports:
            _add_specimen(reports[-1], seg, ctx)
            notes, skipped = reports[-1].comments, None
        elif seg.name == "NTE":
            text = _note(seg)
            if text and notes is not None:
                notes.append(text)
                if skipped is not None:
                    ctx.warnings.append(f"{where}: note after OBX {skipped.set_id} ({skipped.name}), which is "
                                        "not a result, kept as a note on the report")
        # PV1, PD1, TQ1, CTI and Z-segments carry nothing this layer keeps.

    if patient is None:
        raise HL7MessageError("PID segment missing", error_code="100", location="PID^1")
    if not reports:
        raise HL7MessageError("no OBR segment: no results to store", error_code="100", location="OBR^1")
    for report in reports:
        if not report.tester:
            report.tester = next((r.observer for r in report.results if r.observer), "")

    return LabMessage(
        sending_app=header.sending_app, sending_facility=header.sending_facility,
        control_id=header.control_id, version=msh.get(12), encoding=codec, encoding_reason=reason,
        patient=patient, reports=reports, receiving_app=header.receiving_app,
        receiving_facility=header.receiving_facility,
        message_type="^".join(p for p in (header.message_type, header.trigger) if p),
        sent_at=_time(msh, 7, ctx), processing_id=header.processing_id,
        charset_declared=header.charset_declared, warnings=ctx.warnings,
    )


def _report(obr: _Segment, orc: _Segment | None, ctx: _Context) -> LabReport:
    code, name, system = _coded(obr, 4)
    # SPS: component 1 is the specimen source as code&text&system (a CWE in subcomponents).
    specimen = specimen_text(obr.get(15, 1, 1), obr.get(15, 1, 2), obr.get(15, 1, 3))
    technicians = obr.reps(34)
    # OBR-32 principal result interpreter signs the report; some senders fill only OBR-33 (assistant).
    reviewers = obr.reps(32) or obr.reps(33)
    return LabReport(
        placer_no=obr.get(2) or (orc.get(2) if orc else ""),
        filler_no=obr.get(3) or (orc.get(3) if orc else ""),
        panel_code=code, panel_name=name, panel_coding_system=system,
        specimen_type=specimen,
        collected_at=_time(obr, 7, ctx),
        specimen_received_at=_time(obr, 14, ctx),
        reported_at=_time(obr, 22, ctx),
        status=obr.get(25).upper(),
        tester=_person(technicians[0], nested=True) if technicians else "",
        reviewer=_person(reviewers[0], nested=True) if reviewers else "",
    )


def _add_specimen(report: LabReport, spm: _Segment, ctx: _Context) -> None:
    # OBR-15 was the v2.3-2.4 home of the specimen; v2.5+ senders use SPM and may leave OBR-15 empty.
    report.specimen_type = report.specimen_type or specimen_text(*_coded(spm, 4))
    report.collected_at = report.collected_at or _time(spm, 17, ctx)
    report.specimen_received_at = report.specimen_received_at or _time(spm, 18, ctx)


_OBR_STATUS_AS_OBX = {"F", "P", "C", "X", "I", "R"}


def _note(nte: _Segment) -> str:
    """NTE-3 (FT, repeating) as one text: repetitions are lines, escapes decoded as in OBX-5 text."""
    reps = nte.reps(3)
    return "\n".join(nte.ctx.unescape(_raw_rep(nte, 3, i)) for i in range(len(reps))).strip()


def _add_observation(report: LabReport, obr: _Segment, obx: _Segment, patient: LabPatient, where: str,
                     ctx: _Context) -> LabResult | None:
    """Add an OBX to the report as a result (returned) or as an excluded row (None)."""
    value_type = obx.get(2).upper()
    code, name, system = _coded(obx, 3)
    if not code and not name:
        raise HL7MessageError("OBX-3 observation identifier is missing", error_code="101",
                              location=f"{where}^3")
    set_id = obx.get(1)
    unit = _unit(obx, ctx)
    range_text = obx.text(7)
    flags = _flags(obx)
    value_text = obx.text(5)
    reason = exclusion_reason(value_type, code, name, value_text, unit, range_text, flags)
    if reason:
        report.excluded.append(ExcludedObservation(set_id, value_type, code, name, value_text, reason))
        return None

    value_text, value_num, comparator, value_code = _value(obx, value_type, ctx)
    value_num = storable_number(value_num, f"{where}: OBX-5", ctx.warnings)
    # The bounds for the patient as the lab names them (sex only: ages need the specimen date and a birth
    # date the lab may have wrong); intake chooses again for the resident the message is filed under.
    ref = parse_reference_range(range_text, patient.sex) if range_text else ReferenceRange("")
    ref.low, ref.high = storable_range(ref.low, ref.high, f"{where}: OBX-7", ctx.warnings)
    if ref.by_sex and patient.sex not in ref.by_sex:
        ctx.warnings.append(f"{where}: sex-specific range {range_text!r} but patient sex {patient.sex}")
    status = obx.get(11).upper()
    if not status and report.status in _OBR_STATUS_AS_OBX:
        status = report.status
        ctx.warnings.append(f"{where}: OBX-11 empty, took status {status} from OBR-25")
    observers = obx.reps(16)
    result = LabResult(
        set_id=set_id, code=code, name=name, coding_system=system, value_type=value_type,
        value_text=value_text, value_num=value_num, comparator=comparator, unit=unit,
        range_text=range_text, range_low=ref.low, range_high=ref.high, flags=flags,
        critical=any(f in CRITICAL_FLAGS for f in flags),
        abnormal=any(f not in NORMAL_FLAGS for f in flags),
        status=status,
        observed_at=_time(obx, 14, ctx) or report.collected_at,
        value_code=value_code, range_by_sex=ref.by_sex,
        observer=_person(observers[0], nested=False) if observers else "",
    )
    report.results.append(result)
    return result


# --------------------------------------------------------------------------------------------------
# ACK

def generate_control_id() -> str:
    """A fresh MSH-10 for an outbound ACK (20 characters, the v2.5 length limit)."""
    return uuid.uuid4().hex[:20]


def _escape(value: str, header_seps: str = "|^~\\&") -> str:
    field_sep, comp, rep, esc, sub = header_seps
    out = []
    for c in value:
        if c == esc:
            out.append(f"{esc}E{esc}")
        elif c == field_sep:
            out.append(f"{esc}F{esc}")
        elif c == comp:
            out.append(f"{esc}S{esc}")
        elif c == rep:
            out.append(f"{esc}R{esc}")
        elif c == sub:
            out.append(f"{esc}T{esc}")
        elif c in "\r\n":
            out.append(f"{esc}.br{esc}")
        else:
            out.append(c)
    return "".join(out)


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version)[:3]) or (2, 5)


def build_ack(source: LabMessage | MessageHeader | HL7MessageError | None, code: str = "AA", text: str = "",
              *, control_id: str, error: HL7MessageError | None = None,
              now: dt.datetime | None = None) -> bytes:
    """The ACK (MSH, MSA, ERR when rejecting) for an inbound message: bytes in its encoding, CR-separated."""
    if code not in ("AA", "AE", "AR"):
        raise ValueError(f"ACK code must be AA, AE or AR, not {code!r}")
    if isinstance(source, HL7MessageError):
        error = error or source
        header = source.header or MessageHeader()
    elif isinstance(source, LabMessage):
        msg_type, _, trigger = source.message_type.partition("^")
        header = MessageHeader(
            source.sending_app, source.sending_facility, source.receiving_app, source.receiving_facility,
            msg_type, trigger, source.control_id, source.processing_id or "P", source.version,
            source.charset_declared, source.encoding)
    elif isinstance(source, MessageHeader):
        header = source
    else:
        header = MessageHeader()
    if error is not None and not text:
        text = error.reason

    e = _escape
    version = header.version or "2.5"
    trigger = header.trigger or "R01"
    # MSH-9.3 (message structure) exists from v2.3.1 on.
    msg_type = f"ACK^{e(trigger)}^ACK" if _version_tuple(version) >= (2, 3, 1) else f"ACK^{e(trigger)}"
    stamp = (now or dt.datetime.now()).strftime("%Y%m%d%H%M%S")
    msh = ["MSH", "^~\\&", e(header.receiving_app), e(header.receiving_facility), e(header.sending_app),
           e(header.sending_facility), stamp, "", msg_type, e(control_id), e(header.processing_id or "P"),
           e(version)]
    if header.charset_declared:
        msh += [""] * 5 + [e(header.charset_declared)]  # MSH-13..17 empty, MSH-18 echoes the inbound
    segments = ["|".join(msh), "|".join(["MSA", code, e(header.control_id), e(text)])]
    if code != "AA" and error is not None:
        err_code = error.error_code
        err_text = ERROR_TEXTS.get(err_code, "")
        location = error.location  # "SEG^seq^field", components already in place
        if _version_tuple(version) >= (2, 5):
            # v2.5+: ERR-2 location, ERR-3 HL7 error code (table 0357), ERR-4 severity, ERR-8 user message.
            segments.append("|".join(["ERR", "", location, f"{err_code}^{err_text}^HL70357", "E",
                                      "", "", "", e(text)]))
        else:
            # v2.3-2.4: ERR-1 ELD = segment^sequence^field^code&text&table.
            seg, seq, fld = (location.split("^") + ["", "", ""])[:3]
            segments.append(f"ERR|{seg}^{seq}^{fld}^{err_code}&{err_text}&HL70357")
    body = "\r".join(segments) + "\r"
    return body.encode(header.encoding or "utf-8", errors="replace")
