"""LabPatient.citizen_id takes the ID check from gpcore.idcard (no copy of GB 11643 in the labs code)."""
from gpcore import idcard
from server.labs.messages.parsed import LabPatient, PatientIdentifier


def _patient(*values: str) -> LabPatient:
    return LabPatient(identifiers=[PatientIdentifier(v, "", "", "PID-3") for v in values])


def test_first_valid_number_normalised():
    assert _patient("55501", " 11010519491231002ｘ ").citizen_id == "11010519491231002X"


def test_check_character_and_birth_date_both_count():
    bad_check = "110105194912310021"
    no_such_day = "1101051949023100" + "1"
    no_such_day += idcard.check_char(no_such_day)  # right check character, 31 February
    assert _patient(bad_check, no_such_day).citizen_id is None
    assert _patient(bad_check, "11010519491231002X").citizen_id == "11010519491231002X"


def test_fifteen_digit_numbers_are_not_taken():
    # No check character: a 15-digit hospital number could pass for an old ID number.
    assert _patient("110105491231002").citizen_id is None
