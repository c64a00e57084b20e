"""Issue 18, the tablet side without a window: the store encrypted at rest (SQLCipher), K wrapped by the PIN
with the device secret and by the server's escrow key, the PIN rules, the wrong-PIN ladder on an injected
clock, auto-lock's timer, and an unencrypted store upgraded without losing a row."""
from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3

import pytest

from fieldapp import keys
from fieldapp.keys import KeyFile, WrongKey, keyfile_path, new_store_key
from fieldapp.lock import IdleLock, Keyring, PinDisabled, TooSoon, WrongPin, pin_problem, wait_after
from fieldapp.store import Store, StoreLocked, encrypt_file, is_plain_sqlite


class Clock:
    """An injected clock the ladder reads; tests move it instead of sleeping."""

    def __init__(self):
        self.t = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc)

    def __call__(self) -> dt.datetime:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += dt.timedelta(seconds=seconds)


@pytest.mark.parametrize("pin, problem", [
    ("", "pin.too_short"), ("12345", "pin.too_short"), ("12a456", "pin.digits_only"), ("１２３４５６", "pin.digits_only"),
    ("000000", "pin.same_digit"), ("77777777", "pin.same_digit"), ("123456", "pin.run"),
    ("654321", "pin.run"), ("345678", "pin.run"), ("890123", "pin.run"), ("121212", "pin.repeated"),
    ("123123", "pin.repeated"), ("358172", None), ("20481937", None), ("112358", None),
])
def test_pin_rules(pin, problem):
    assert pin_problem(pin) == problem


@pytest.mark.parametrize("pin", ["19620315", "620315", "150362", "031562", "15031962", "9196203150"])
def test_a_member_may_not_use_their_birth_date(pin):
    assert pin_problem(pin, "1962-03-15") == "pin.birth_date"
    assert pin_problem(pin) is None
    assert pin_problem("740291", dt.date(1962, 3, 15)) is None


def _enrolled(tmp_path) -> tuple[KeyFile, bytes, bytes]:
    kf = KeyFile(path=keyfile_path(tmp_path / "tablet.sqlite"))
    kf.device_secret = keys.b64(os.urandom(32))
    escrow, store_key = os.urandom(32), new_store_key()
    kf.set_escrow(escrow, store_key)
    kf.save()
    return kf, escrow, store_key


@pytest.mark.real_kdf  # the one test on the production argon2id parameters (the others use cheap ones)
def test_k_opens_by_pin_with_the_device_secret_or_by_escrow_and_by_nothing_else(tmp_path):
    kf, escrow, store_key = _enrolled(tmp_path)
    ring = Keyring(kf)
    ring.set_pin("7", "358172", store_key, name="王医生")
    again = KeyFile.load(kf.path)
    assert again.members["7"]["kdf"] == {"time_cost": 1, "memory_cost": 46 * 1024, "parallelism": 1}
    assert again.open_pin("7", "358172") == store_key
    assert again.open_escrow(escrow) == store_key
    with pytest.raises(WrongKey):
        again.open_escrow(os.urandom(32))
    # The PIN without this tablet's secret: another device's secret derives another key.
    other = KeyFile.load(kf.path)
    other.device_secret = keys.b64(os.urandom(32))
    with pytest.raises(WrongKey):
        other.open_pin("7", "358172")
    # A wrap moved to another member (or device id) does not open: it is bound to both.
    again.members["8"] = dict(again.members["7"])
    with pytest.raises(WrongKey):
        again.open_pin("8", "358172")
    # What is written down: no K, no PIN, no escrow key.
    text = kf.path.read_text()
    for secret in (store_key, escrow):
        assert keys.b64(secret) not in text and secret.hex() not in text
    assert "358172" not in text
    assert oct(kf.path.stat().st_mode & 0o777) == "0o600"


def test_trivial_pins_are_refused_when_set(tmp_path):
    kf, _, store_key = _enrolled(tmp_path)
    with pytest.raises(ValueError, match="pin.run"):
        Keyring(kf).set_pin("7", "123456", store_key)
    assert "7" not in KeyFile.load(kf.path).members


def test_the_wrong_pin_ladder_on_an_injected_clock(tmp_path):
    kf, escrow, store_key = _enrolled(tmp_path)
    clock = Clock()
    ring = Keyring(kf, now=clock)
    ring.set_pin("7", "358172", store_key)
    ring.set_pin("9", "740291", store_key)
    waits = []
    for attempt in range(1, 10):
        with pytest.raises(WrongPin) as err:
            ring.unlock_pin("7", "000001")
        assert err.value.left == 10 - attempt
        waits.append(err.value.wait)
        if err.value.wait:
            # Too soon: refused without even trying the PIN (the right one included), and not counted.
            with pytest.raises(TooSoon) as soon:
                ring.unlock_pin("7", "358172")
            assert soon.value.seconds == err.value.wait
            clock.advance(err.value.wait - 1)
            with pytest.raises(TooSoon):
                ring.unlock_pin("7", "358172")
            clock.advance(1)
        # The count survives the app being killed: a fresh Keyring on the file sees it.
        assert KeyFile.load(kf.path).members["7"]["failures"] == attempt
    assert waits == [0, 0, 0, 30, 60, 120, 300, 900, 1800]
    assert waits == [wait_after(n) for n in range(1, 10)]
    # Another member's PIN is theirs alone: unaffected.
    assert ring.unlock_pin("9", "740291") == store_key
    clock.advance(1800)
    with pytest.raises(PinDisabled):
        ring.unlock_pin("7", "000001")  # the 10th wrong try
    with pytest.raises(PinDisabled):
        ring.unlock_pin("7", "358172")  # now even the right PIN
    saved = KeyFile.load(kf.path).members["7"]
    assert saved["disabled"] and saved["wrap"] is None
    # Only an online sign-in opens it now: the escrow key, which the tablet never keeps.
    assert KeyFile.load(kf.path).open_escrow(escrow) == store_key


def test_a_right_pin_resets_the_count_and_a_clock_set_back_does_not_lock_forever(tmp_path):
    kf, _, store_key = _enrolled(tmp_path)
    clock = Clock()
    ring = Keyring(kf, now=clock)
    ring.set_pin("7", "358172", store_key)
    for _ in range(5):
        with pytest.raises((WrongPin, TooSoon)):
            ring.unlock_pin("7", "111112")
    clock.t -= dt.timedelta(days=2)  # someone sets the date back
    assert ring.seconds_to_wait("7") == 30
    clock.advance(30)
    assert ring.unlock_pin("7", "358172") == store_key
    assert KeyFile.load(kf.path).members["7"]["failures"] == 0


def test_idle_lock_on_an_injected_clock():
    now = [100.0]
    idle = IdleLock(timeout=300, clock=lambda: now[0])
    now[0] += 299
    assert not idle.due()
    idle.touch()
    now[0] += 299
    assert not idle.due()
    now[0] += 1
    assert idle.due()


def _resident(store: Store) -> dict:
    row = store.db.execute("SELECT name, id_number FROM residents WHERE id_number IS NOT NULL AND name != '' "
                           "ORDER BY name LIMIT 1").fetchone()
    return {"name": row[0], "id_number": row[1]}


def _all_bytes(path: str) -> bytes:
    out = b""
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            with open(path + suffix, "rb") as fh:
                out += fh.read()
    return out


def test_an_unencrypted_store_is_encrypted_keeping_every_row_and_shows_nothing_readable(tablet_session, tmp_path):
    """The synced test-world store (residents with names and ID numbers, a draft, a saved visit waiting in the
    outbox) is upgraded in place; every table keeps every row; the bytes hold no name or ID number."""
    store = tablet_session.store
    who = _resident(store)
    rid = store.db.execute("SELECT id FROM residents ORDER BY name LIMIT 1").fetchone()[0]
    store.save_draft(rid, "hypertension", {"sbp": 150, "note": who["name"]})
    store.save_resident_edit(rid, {"phone": "13912345678"})
    tables = [r[0] for r in store.db.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                             "AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    before = {t: store.db.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in tables}
    before = {t: [tuple(r) for r in rows] for t, rows in before.items()}
    version = store.schema_version
    path = tablet_session.store_path
    tablet_session.close()
    plain = _all_bytes(path)
    # The test can fail: the plain file does show them.
    assert who["name"].encode("utf-8") in plain and who["id_number"].encode() in plain

    key = new_store_key()
    encrypt_file(path, key)
    assert not is_plain_sqlite(path)
    assert not os.path.exists(path + "-wal") and not os.path.exists(path + ".encrypting")
    enc = Store(path, key=key)
    assert enc.schema_version == version
    for t in tables:
        assert [tuple(r) for r in enc.db.execute(f"SELECT * FROM {t} ORDER BY 1")] == before[t], t
    assert enc.outbox_count() == 1 and enc.draft(rid, "hypertension")["sbp"] == 150
    # Work on the encrypted store goes on (WAL included) and stays unreadable.
    enc.save_resident_edit(rid, {"phone": "13900000000"})
    raw = _all_bytes(path)
    enc.close()
    raw += _all_bytes(path)
    for secret in (who["name"].encode("utf-8"), who["id_number"].encode(), "高血压".encode(), b"13912345678",
                   b"SQLite format 3", b"CREATE TABLE"):
        assert secret not in raw, secret

    # Without the key, or with another one, the file does not open.
    with pytest.raises(sqlite3.DatabaseError):
        Store(path)
    with pytest.raises(StoreLocked):
        Store(path, key=new_store_key())
    from sqlcipher3 import dbapi2 as sqlcipher
    bare = sqlcipher.connect(path)
    with pytest.raises(sqlcipher.DatabaseError):
        bare.execute("SELECT count(*) FROM residents").fetchone()
    bare.close()
    assert Store(path, key=key).count("residents") == len(before["residents"])


def test_the_practice_store_is_a_copy_that_never_syncs(tablet_session, tmp_path):
    from fieldapp.sync import SyncEngine, SyncFailed

    path = tablet_session.store_path
    tablet_session.close()
    key = new_store_key()
    encrypt_file(path, key)
    team = Store(path, key=key)
    rid = team.db.execute("SELECT id FROM residents ORDER BY name LIMIT 1").fetchone()[0]
    team.save_resident_edit(rid, {"phone": "13911112222"})
    copy = str(tmp_path / "practice.sqlite")
    team.copy_to(copy, key)
    practice = Store(copy, key=key)
    assert practice.count("residents") == team.count("residents")
    with practice.transaction():
        practice.set_state("practice", True)
    with pytest.raises(SyncFailed, match="practice"):
        SyncEngine(practice, transport=None).sync()
    assert json.loads(json.dumps(practice.status()))["outbox"] == 1
