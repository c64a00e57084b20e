"""Issue 18 end to end, the tablet's session against the real server's device registry (over the test client):
enrolment on the first online sign-in, the store encrypted from then on, PINs per member and offline unlock,
ten wrong PINs and the online sign-in that recovers (unsent visits kept), an old plain store encrypted at the
first sign-in, practice mode, retire (waiting visits reach the server, then the wipe) and lost (the wipe,
nothing sent)."""
from __future__ import annotations

import datetime as dt
import os

import pytest
from sqlalchemy import select

from fieldapp.keys import KeyFile, keyfile_path
from fieldapp.lock import MAX_FAILURES, PinDisabled, TooSoon, WrongPin
from fieldapp.session import SignInFailed, TabletSession
from fieldapp.store import Store, StoreLocked, is_plain_sqlite
from fieldapp.sync.engine import AUTHOR_MOVED
from fieldapp.sync.transport import TransportError

from .conftest import PASSWORD, TODAY, htn_form

PIN = "358172"
NURSE_PIN = "740291"


class Clock:
    def __init__(self):
        self.t = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc)

    def __call__(self):
        return self.t


class Offline:
    """A transport with no network at all (the tablet in a village without signal)."""

    def __init__(self, url, store):
        self.store, self.device_id, self.device_state = store, None, None

    def call(self, *args, **kw):
        raise TransportError("no signal")


@pytest.fixture
def tablet(tmp_path, clean_app, clinic):
    """make(**kw) -> a secure TabletSession on one tablet file over the real server (test client)."""
    from server.demo.tablet import ClientTransport

    client = clean_app.test_client()
    clock = Clock()

    def make(online: bool = True):
        factory = (lambda url, store: ClientTransport(client, store)) if online else Offline
        return TabletSession(str(tmp_path / "tablet.sqlite"), transport_factory=factory, now=clock)
    make.clock = clock
    make.path = str(tmp_path / "tablet.sqlite")
    return make


def _sync(session) -> dict:
    outcome = {}
    assert session.start_sync(lambda p: None, outcome.update)
    session.wait_sync(60)
    return outcome


def _device(as_user, who, device_id):
    r = as_user(who).get(f"/api/v1/devices/{device_id}")
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def _files(path):
    return sorted(p for p in os.listdir(os.path.dirname(path)) if p.startswith(os.path.basename(path)))


def test_first_sign_in_enrols_encrypts_and_a_pin_unlocks_offline(tablet, clinic, as_user):
    session = tablet()
    assert session.locked and not session.can_unlock_offline
    me = session.sign_in("test", "gp-a1", PASSWORD)
    kf = KeyFile.load(keyfile_path(tablet.path))
    assert kf.enrolled and kf.team_id == me["team_id"]
    assert _device(as_user, "staff-a", kf.device_id)["state"] == "active"
    assert session.needs_pin
    with pytest.raises(ValueError, match="pin.run"):
        session.set_pin("123456")
    session.set_pin(PIN)
    assert not session.needs_pin
    done = _sync(session)
    assert done["ok"] and done["synced"], done
    rid = clinic.residents["A1-0-0"]
    visit = session.store.save_visit(rid, "hypertension", htn_form(TODAY.isoformat()))
    session.lock()
    assert session.locked and session.store is None
    assert not is_plain_sqlite(tablet.path)
    with pytest.raises(Exception):
        Store(tablet.path)
    # The next morning, no signal: the PIN opens it; the unsent visit is there.
    offline = tablet(online=False)
    assert offline.locked and offline.can_unlock_offline
    offline.unlock(str(me["id"]), PIN)
    assert offline.me["username"] == "gp-a1"
    assert offline.store.visit(visit)["sbp"] == 128 and offline.store.outbox_count() == 1
    offline.close()


def _shared(tablet):
    """A tablet synced by gp-a1, then given a PIN by each of gp-a1 (PIN) and nurse-a1 (NURSE_PIN); locked."""
    tab = tablet()
    a = tab.sign_in("test", "gp-a1", PASSWORD)
    tab.set_pin(PIN)
    assert _sync(tab)["ok"]
    tab.lock()
    b = tab.sign_in("test", "nurse-a1", PASSWORD)  # the same tablet, the same team: the same K
    tab.set_pin(NURSE_PIN)
    tab.lock()
    return tab, a, b


def test_each_member_has_their_own_pin_and_sign_in(tablet, clinic):
    session, a, b = _shared(tablet)
    names = {m["username"] for m in session.keyring.members()}
    assert names == {"gp-a1", "nurse-a1"}
    with pytest.raises(WrongPin):
        session.unlock(str(b["id"]), PIN)  # gp-a1's PIN is not the nurse's
    session.unlock(str(b["id"]), NURSE_PIN)
    assert session.me["username"] == "nurse-a1"
    token_b = session.store.state("access_token")
    session.lock()
    session.unlock(str(a["id"]), PIN)
    assert session.me["username"] == "gp-a1" and session.store.state("access_token") != token_b
    session.close()


def test_each_visit_is_signed_by_the_member_who_saved_it(tablet, clinic, session):
    """On a shared tablet the outbox keeps each record's author; a sync run by one member pushes the other's
    records with the other's own sign-in, so the server signs each in its author's name."""
    from server.followups.models import FollowUp

    tab, a, b = _shared(tablet)
    offline = tablet(online=False)
    offline.unlock(str(a["id"]), PIN)
    by_a = offline.store.save_visit(clinic.residents["A1-0-0"], "hypertension",
                                    htn_form((TODAY - dt.timedelta(days=1)).isoformat()))
    offline.lock()
    offline.unlock(str(b["id"]), NURSE_PIN)
    by_b = offline.store.save_visit(clinic.residents["A1-0-0"], "hypertension", htn_form(TODAY.isoformat()))
    offline.close()
    back = tablet()
    back.unlock(str(b["id"]), NURSE_PIN)  # the nurse is in when the signal comes back
    done = _sync(back)
    assert done["ok"] and done["synced"], done
    assert session.get(FollowUp, by_a).signed_by == a["id"]
    assert session.get(FollowUp, by_b).signed_by == b["id"]
    back.close()


def test_a_disabled_account_is_cut_off_at_the_next_contact(tablet, clinic, as_user):
    tab, a, b = _shared(tablet)
    tab.unlock(str(a["id"]), PIN)
    visit = tab.store.save_visit(clinic.residents["A1-0-0"], "hypertension", htn_form(TODAY.isoformat()))
    r = as_user("admin").patch(f"/api/v1/users/{a['id']}", json={"is_active": False})
    assert r.status_code == 200, r.get_json()
    done = _sync(tab)
    assert not done["ok"] and done["signed_out"], done
    tab.lock()
    with pytest.raises(PinDisabled):
        tab.unlock(str(a["id"]), PIN)
    tab.unlock(str(b["id"]), NURSE_PIN)  # the team's other member still works; the visit waits, kept
    assert tab.store.visit(visit)["sbp"] == 128 and tab.store.outbox_count() == 1
    done = _sync(tab)  # the nurse syncs: the disabled doctor's visit cannot go up in the nurse's name
    assert done["ok"] and not done["synced"] and done["author_signed_out"] == str(a["id"]), done
    assert tab.store.outbox_count() == 1 and not tab.needs_pin
    tab.close()


def _refused_form(tab, visit_id) -> dict:
    """The form of a visit the server refused, as the tablet keeps it for a person to fix or discard; the
    resident's history no longer shows it as done."""
    [item] = [i for i in tab.store.needs_attention() if i["entity_id"] == visit_id]
    assert visit_id not in {v["id"] for v in tab.store.visits(item["fields"]["resident_id"])}
    return item["fields"]["form"]


def test_a_gp_moved_to_another_team_is_cut_off_at_the_next_contact(tablet, clinic, as_user, session):
    """The tablet is team A1's: once gp-a1 is moved to A2, their PIN stops opening it (the next sync says
    why), their online sign-in is refused, and the visit they saved before the move is kept on the tablet,
    in needs-attention with words for the team, never lost."""
    from server.followups.models import FollowUp

    tab, a, b = _shared(tablet)
    tab.unlock(str(a["id"]), PIN)
    visit = tab.store.save_visit(clinic.residents["A1-0-0"], "hypertension", htn_form(TODAY.isoformat()))
    r = as_user("admin").put(f"/api/v1/users/{a['id']}/team",
                             json={"team_id": clinic.teams["A2"], "reason": "调往A2"})
    assert r.status_code == 200, r.get_json()
    done = _sync(tab)
    assert not done["ok"] and done["signed_out"] and "其他团队" in done["message"], done
    tab.lock()
    with pytest.raises(PinDisabled):
        tab.unlock(str(a["id"]), PIN)
    with pytest.raises(SignInFailed, match="其他团队"):
        tablet().sign_in("test", "gp-a1", PASSWORD)
    tab.unlock(str(b["id"]), NURSE_PIN)  # the team's other member still works; the visit is kept
    assert _refused_form(tab, visit)["sbp"] == 128  # kept, in needs-attention
    done = _sync(tab)  # it cannot go up in the moved doctor's name from the old team's tablet
    assert done["ok"] and done["needs_attention"] == 1 and _refused_form(tab, visit)["sbp"] == 128, done
    [held] = tab.store.needs_attention()
    assert held["entity_id"] == visit and held["reason"] == {"code": "device_other_team",
                                                             "message": AUTHOR_MOVED}, held
    assert session.get(FollowUp, visit) is None
    tab.close()


def test_a_moved_gp_is_cut_off_when_a_teammate_syncs_first(tablet, clinic, as_user, session):
    """The nurse syncs before the moved doctor does: the doctor's waiting visit is refused in the doctor's
    own name, which is how the tablet learns of the move; the doctor's PIN stops opening it at once."""
    from server.followups.models import FollowUp

    tab, a, b = _shared(tablet)
    tab.unlock(str(a["id"]), PIN)
    visit = tab.store.save_visit(clinic.residents["A1-0-0"], "hypertension", htn_form(TODAY.isoformat()))
    tab.lock()
    r = as_user("admin").put(f"/api/v1/users/{a['id']}/team",
                             json={"team_id": clinic.teams["A2"], "reason": "调往A2"})
    assert r.status_code == 200, r.get_json()
    tab.unlock(str(b["id"]), NURSE_PIN)
    done = _sync(tab)
    assert done["ok"] and done["moved_authors"] == [str(a["id"])] and done["needs_attention"] == 1, done
    assert "调到其他团队" in done["message"] and tab.me["username"] == "nurse-a1"
    [held] = tab.store.needs_attention()
    assert held["entity_id"] == visit and held["reason"] == {"code": "device_other_team",
                                                             "message": AUTHOR_MOVED}, held
    assert session.get(FollowUp, visit) is None and _refused_form(tab, visit)["sbp"] == 128
    tab.lock()
    with pytest.raises(PinDisabled):
        tab.unlock(str(a["id"]), PIN)
    tab.unlock(str(b["id"]), NURSE_PIN)  # the nurse is not touched
    tab.close()


def test_ten_wrong_pins_disable_it_and_an_online_sign_in_recovers_keeping_unsent_visits(tablet, clinic):
    session = tablet()
    me = session.sign_in("test", "gp-a1", PASSWORD)
    session.set_pin(PIN)
    assert _sync(session)["ok"]
    rid = clinic.residents["A1-0-0"]
    visit = session.store.save_visit(rid, "hypertension", htn_form(TODAY.isoformat()))
    session.lock()
    offline = tablet(online=False)
    for n in range(1, MAX_FAILURES):
        with pytest.raises(WrongPin):
            offline.unlock(str(me["id"]), "000001")
        tablet.clock.t += dt.timedelta(hours=1)  # past any wait
    with pytest.raises(PinDisabled):
        offline.unlock(str(me["id"]), "000001")
    with pytest.raises(PinDisabled):
        offline.unlock(str(me["id"]), PIN)
    assert not offline.can_unlock_offline and offline.locked
    with pytest.raises(SignInFailed):
        offline.sign_in("test", "gp-a1", PASSWORD)  # no signal: still locked, nothing lost
    assert offline.locked and os.path.exists(tablet.path)
    online = tablet()
    online.sign_in("test", "gp-a1", PASSWORD)  # the escrow key from the server opens it
    assert online.store.visit(visit)["sbp"] == 128 and online.store.outbox_count() == 1
    assert online.needs_pin
    online.set_pin("602917")
    online.lock()
    online.unlock(str(me["id"]), "602917")
    online.close()


def test_the_ladder_waits_between_wrong_pins(tablet, clinic):
    session = tablet()
    me = session.sign_in("test", "gp-a1", PASSWORD)
    session.set_pin(PIN)
    session.lock()
    for _ in range(4):
        with pytest.raises(WrongPin):
            session.unlock(str(me["id"]), "999990")
    with pytest.raises(TooSoon):
        session.unlock(str(me["id"]), PIN)
    tablet.clock.t += dt.timedelta(seconds=30)
    session.unlock(str(me["id"]), PIN)
    session.close()


def test_a_plain_store_from_an_older_app_is_encrypted_at_the_first_secure_sign_in(tmp_path, clean_app, clinic):
    from server.demo.tablet import ClientTransport

    client = clean_app.test_client()
    path = str(tmp_path / "tablet.sqlite")
    plain = TabletSession(path, transport_factory=lambda url, store: ClientTransport(client, store), secure=False)
    plain.sign_in("test", "gp-a1", PASSWORD)
    assert _sync(plain)["ok"]
    rid = clinic.residents["A1-0-0"]
    visit = plain.store.save_visit(rid, "hypertension", htn_form(TODAY.isoformat()))
    counts, outbox = plain.store.status()["counts"], plain.store.outbox_count()
    plain.close()
    assert is_plain_sqlite(path)
    session = TabletSession(path, transport_factory=lambda url, store: ClientTransport(client, store))
    assert not session.locked  # an unencrypted store opens as it is until the first online sign-in
    session.sign_in("test", "gp-a1", PASSWORD)
    assert not is_plain_sqlite(path) and session.store.encrypted
    assert session.store.status()["counts"] == counts and session.store.outbox_count() == outbox
    assert session.store.visit(visit)["sbp"] == 128
    assert session.store.device_id == KeyFile.load(keyfile_path(path)).device_id
    session.close()


def test_a_crash_between_the_key_file_and_the_encryption_loses_nothing(tmp_path, clean_app, clinic):
    """The key file is written before the store is encrypted; if the app dies in between, the plain store
    still opens and the next online sign-in encrypts it with every row."""
    from fieldapp.keys import b64, new_store_key
    from server.demo.tablet import ClientTransport

    client = clean_app.test_client()
    path = str(tmp_path / "tablet.sqlite")
    plain = TabletSession(path, transport_factory=lambda url, store: ClientTransport(client, store), secure=False)
    plain.sign_in("test", "gp-a1", PASSWORD)
    assert _sync(plain)["ok"]
    counts = plain.store.status()["counts"]
    plain.close()
    kf = KeyFile(path=keyfile_path(path))  # what the dead app had written: enrolled, K escrowed, no PIN yet
    kf.device_secret = b64(os.urandom(32))
    kf.set_escrow(os.urandom(32), new_store_key())
    kf.save()
    session = TabletSession(path, transport_factory=lambda url, store: ClientTransport(client, store))
    assert not session.locked and session.store.status()["counts"] == counts
    session.sign_in("test", "gp-a1", PASSWORD)
    assert not is_plain_sqlite(path) and session.store.status()["counts"] == counts
    session.close()


def test_practice_records_never_reach_the_team_store_or_the_server(tablet, clinic, session):
    from server.followups.models import FollowUp

    tab = tablet()
    tab.sign_in("test", "gp-a1", PASSWORD)
    tab.set_pin(PIN)
    assert _sync(tab)["ok"]
    rid = clinic.residents["A1-0-0"]
    tab.enter_practice()
    practice_visit = tab.store.save_visit(rid, "hypertension", htn_form(TODAY.isoformat(), sbp=150))
    done = _sync(tab)
    assert not done["ok"]
    assert tab.store.outbox_count() == 1  # kept in the practice copy, never sent
    tab.leave_practice()
    assert not os.path.exists(tab.practice_path)
    assert tab.store.outbox_count() == 0
    assert _sync(tab)["ok"]
    assert session.get(FollowUp, practice_visit) is None
    tab.close()


def _ordered(tablet, clinic, as_user, order: str, days: tuple[int, ...]):
    """A synced, enrolled tablet with visits waiting in its outbox, then center staff's order for it."""
    tab = tablet()
    tab.sign_in("test", "gp-a1", PASSWORD)
    tab.set_pin(PIN)
    assert _sync(tab)["ok"]
    rid = clinic.residents["A1-0-0"]
    visits = [tab.store.save_visit(rid, "hypertension", htn_form((TODAY - dt.timedelta(days=d)).isoformat()))
              for d in days]
    device_id = tab.keyring.keyfile.device_id
    r = as_user("staff-a").post(f"/api/v1/devices/{device_id}/{order}", json={"reason": "测试"})
    assert r.status_code == 200, r.get_json()
    return tab, device_id, visits


def test_retire_sends_every_waiting_visit_then_wipes(tablet, clinic, as_user, session):
    from server.followups.models import FollowUp

    tab, device_id, visits = _ordered(tablet, clinic, as_user, "retire", (0, 2))
    done = _sync(tab)
    assert done.get("wiped") == "retired" and done["confirmed"], done
    tab.after_wipe()
    for visit in visits:
        assert session.get(FollowUp, visit) is not None
    assert _files(tablet.path) == []
    assert _device(as_user, "staff-a", device_id)["wiped_at"] is not None


def test_lost_wipes_everything_and_sends_nothing(tablet, clinic, as_user, session):
    from server.followups.models import FollowUp

    tab, device_id, (visit,) = _ordered(tablet, clinic, as_user, "lost", (0,))
    done = _sync(tab)
    assert done.get("wiped") == "lost" and done["confirmed"], done
    tab.after_wipe()
    assert session.get(FollowUp, visit) is None
    assert _files(tablet.path) == []
    device = _device(as_user, "staff-a", device_id)
    assert device["wiped_at"] is not None and device["pending_changes"] == 1
    again = tablet(online=False)
    assert again.locked and not again.can_unlock_offline and again.keyring.members() == []


def test_a_wrong_key_never_opens_the_store(tablet, clinic):
    session = tablet()
    session.sign_in("test", "gp-a1", PASSWORD)
    session.close()
    with pytest.raises(StoreLocked):
        Store(tablet.path, key=os.urandom(32))
