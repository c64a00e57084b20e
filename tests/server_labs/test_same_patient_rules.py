"""The lab wing's three "same patient" decisions through gpcore.patients, without a database: filing
(matching.decide), joining under an order number (intake.same_person) and the queue's offer
(services._same_patient_keys). The cases where the old copies disagreed, with the rule that won."""
from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from gpcore import idcard
from server.labs import intake, matching, services
from server.labs.model import LabPatient, PatientIdentifier

BORN = dt.date(1978, 3, 9)
NUMBER = idcard.make("650102", BORN, 2)  # female (even)
OTHER_NUMBER = idcard.make("650102", BORN, 4)


def _patient(name, number=NUMBER, sex="F", birth=BORN):
    ids = [PatientIdentifier(number, "ID", "", "PID-3")] if number else []
    return LabPatient(identifiers=ids, name=name, birth_date=birth, sex=sex)


FILE = SimpleNamespace(id="r-1", name="阿依古丽·买买提", birth_date=BORN, sex="2", id_number=NUMBER)


@pytest.mark.parametrize("sent, resident_id, reason", [
    ("阿依古丽·买买提", "r-1", None),
    ("阿依古丽•买买提", "r-1", None),  # a bullet for the dot: was id_name_mismatch, now the same name
    ("阿依古丽买买提", "r-1", None),  # the dot left out: likewise
    ("阿依古丽 · 买买提", "r-1", None),
    ("AYIGULI MAIMAITI", "r-1", None),  # pinyin, with the ID number: as before
    ("阿依古丽·买提", None, "id_name_mismatch"),
    ("°¢ÒÀ¹ÅÀö", None, "id_name_mismatch"),  # a name mis-decoded: no readable name confirms the number
])
def test_filing_by_id_number(sent, resident_id, reason):
    found = matching.decide(_patient(sent), [FILE])
    assert (found.resident_id, found.reason) == (resident_id, reason)


def test_joining_under_an_order_number_never_on_an_unreadable_name():
    # intake used to join on the same ID number whatever name came with it when the name had neither
    # characters nor letters; matching queued it. Matching's rule won (a garbled name is when to look).
    assert intake.same_person(_patient("°¢ÒÀ¹ÅÀö"), FILE.name, BORN, NUMBER, sex="2") is False
    assert intake.same_person(_patient("阿依古丽买买提"), FILE.name, BORN, NUMBER, sex="2") is True
    assert intake.same_person(_patient("阿依古丽买买提", number=None), FILE.name, BORN, None, sex="1") is False


def _message(name, number=None, sex="F", birth=BORN, hospital=1, local=()):
    return SimpleNamespace(patient_name=name, patient_name_alphabetic="", patient_birth_date=birth, patient_sex=sex,
                           patient_id_number=number, hospital_id=hospital,
                           patient_identifiers=[{"authority": "HOSP", "value": v} for v in local])


@pytest.mark.parametrize("other, keys", [
    (_message("阿依古丽·买买提"), ["name_birth_sex"]),
    (_message("阿依古丽•买买提"), ["name_birth_sex"]),  # was [] (the names differed as text)
    (_message("阿依古丽·买买提", sex="M"), []),  # same name and birth date, another sex
    (_message("阿依古丽·买买提", sex="U"), []),
    (_message("别人", number=NUMBER), ["id_number"]),  # the ID number ties; a name typo does not hide it
    (_message("别人", local=["H-1"]), ["hospital_patient_id"]),
    (_message("别人", local=["H-1"], hospital=2), []),  # another hospital's number
])
def test_offered_together(other, keys):
    mine = _message("阿依古丽·买买提", number=NUMBER, local=["H-1"])
    assert services._same_patient_keys(mine, other) == keys


def test_not_offered_with_another_id_number():
    mine = _message("阿依古丽·买买提", number=NUMBER, local=["H-1"])
    assert services._same_patient_keys(mine, _message("阿依古丽·买买提", number=OTHER_NUMBER, local=["H-1"])) == []
