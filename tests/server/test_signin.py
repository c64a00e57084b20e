"""Sign-in hardening: the throttle counts an attempt before the password is checked (so parallel guesses
get no more checks than the limit), per account at an address with progressive delays (nobody elsewhere can
lock an account out), behind a configured number of trusted proxies; a password change revokes every token
of the user; logout revokes the whole sign-in, refresh token included."""
import datetime as dt
import threading

import pytest

from server import create_app
from server.auth import services

PW = "correct-horse-1"


def login(client, username, password=PW, addr="10.0.0.1", **headers):
    return client.post("/api/v1/auth/login", json={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": addr}, headers=headers)


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def assert_error(resp, code, reason=None):
    body = resp.get_json()
    assert resp.status_code == code and body["code"] == code, body
    if reason:
        assert body["errors"]["authentication"] == reason, body


@pytest.fixture
def clock(monkeypatch):
    """The throttle's clock, moved by hand: clock.advance(seconds)."""
    class Clock:
        now = dt.datetime(2026, 12, 6, 8, 0, tzinfo=dt.timezone.utc)

        def advance(self, seconds):
            self.now += dt.timedelta(seconds=seconds)

    c = Clock()
    monkeypatch.setattr(services, "utcnow", lambda: c.now)
    return c


def test_delays_grow_with_each_failure_after_the_free_ones(client, clean_app, world, clock):
    free = clean_app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]
    first = clean_app.config["LOGIN_FIRST_DELAY_SECONDS"]
    for _ in range(free):
        assert_error(login(client, "gp-a1", "bad"), 401, "invalid_credentials")
    waits = []
    for _ in range(4):
        r = login(client, "gp-a1", "bad")
        assert_error(r, 429, "throttled_account")
        waits.append(int(r.headers["Retry-After"]))
        clock.advance(waits[-1])
        assert_error(login(client, "gp-a1", "bad"), 401)  # after the wait: one more check
    assert waits == [first, 2 * first, 4 * first, 8 * first]
    clock.advance(3600)
    for _ in range(20):  # a guesser who waits each delay out
        clock.advance(int(login(client, "gp-a1", "bad").headers.get("Retry-After", 0)))
    r = login(client, "gp-a1", "bad")
    r = login(client, "gp-a1", "bad") if r.status_code == 401 else r
    assert_error(r, 429, "throttled_account")  # still waits, capped at the longest delay
    assert int(r.headers["Retry-After"]) == clean_app.config["LOGIN_MAX_DELAY"].total_seconds()


def test_nobody_elsewhere_can_lock_an_account_out(client, world, clock):
    for _ in range(30):
        login(client, "gp-a1", "bad", addr="198.51.100.9")
    assert_error(login(client, "gp-a1", addr="198.51.100.9"), 429, "throttled_account")
    assert login(client, "gp-a1", addr="10.0.0.1").status_code == 200  # the doctor at the center signs in


def test_a_busy_address_forgets_old_failures(client, clean_app, world, clock):
    """A center behind one address: typos spread over the day never add up to a delay."""
    for _ in range(3 * clean_app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"]):
        assert_error(login(client, "nobody", "typo", addr="10.1.1.1"), 401)
        clock.advance(15 * 60)


def test_a_right_password_gives_the_address_its_attempt_back(client, clean_app, world):
    clean_app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"] = 3
    for _ in range(10):
        assert login(client, "gp-a1", addr="10.2.2.2").status_code == 200
    assert_error(login(client, "x", "bad", addr="10.2.2.2"), 401)


@pytest.mark.commits  # each guess's request thread counts through its own connection
@pytest.mark.parametrize("guesses", [30])
def test_parallel_guesses_get_no_more_checks_than_the_limit(clean_app, world, monkeypatch, guesses):
    """Finding 2: 30 parallel guesses got 19 password checks against a limit of 5."""
    free = clean_app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]
    checks, lock = [], threading.Lock()
    verify = services._verify

    def counted(*args):
        with lock:
            checks.append(1)
        return verify(*args)

    monkeypatch.setattr(services, "_verify", counted)
    start = threading.Barrier(guesses)
    statuses = []

    def guess(i):
        client = clean_app.test_client()
        start.wait()
        statuses.append(login(client, "gp-a1", f"guess-{i}", addr="203.0.113.5").status_code)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(guesses)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(checks) == free
    assert sorted(statuses) == [401] * free + [429] * (guesses - free)


@pytest.mark.commits  # apps of their own, with their own connections
def test_the_client_address_comes_from_the_configured_proxies(clean_app, world):
    def app_with(proxies):
        same = {k: clean_app.config[k] for k in ("SQLALCHEMY_DATABASE_URI", "PASSWORD_HASH_PROFILE")}
        return create_app({**same, "DEVELOPMENT": True, "TRUSTED_PROXIES": proxies}).test_client()

    behind_nginx = app_with(1)
    for _ in range(5):
        login(behind_nginx, "gp-a1", "bad", addr="127.0.0.1", **{"X-Forwarded-For": "203.0.113.7"})
    r = login(behind_nginx, "gp-a1", addr="127.0.0.1", **{"X-Forwarded-For": "203.0.113.7"})
    assert_error(r, 429, "throttled_account")
    # another client behind the same proxy is another address; a forged first hop changes nothing
    r = login(behind_nginx, "gp-a1", addr="127.0.0.1", **{"X-Forwarded-For": "203.0.113.8"})
    assert r.status_code == 200
    r = login(behind_nginx, "gp-a1", addr="127.0.0.1", **{"X-Forwarded-For": "10.0.0.1, 203.0.113.7"})
    assert_error(r, 429, "throttled_account")
    # trusting no proxy (the default), the header is ignored: every guess counts against the real address
    direct = app_with(0)
    for i in range(5):
        login(direct, "gp-a2", "bad", addr="198.51.100.1", **{"X-Forwarded-For": f"192.0.2.{i}"})
    assert_error(login(direct, "gp-a2", addr="198.51.100.1", **{"X-Forwarded-For": "192.0.2.99"}), 429)


def test_a_password_change_revokes_every_token_of_the_user(client, as_user, world):
    old = login(client, "gp-a1").get_json()
    other = login(client, "gp-a1", addr="10.0.0.2").get_json()  # a second device
    r = as_user("admin").patch(f"/api/v1/users/{world.users['gp-a1']}", json={"password": "a-new-password-1"})
    assert r.status_code == 200
    for tokens in (old, other):
        r = client.get("/api/v1/auth/me", headers=bearer(tokens["access_token"]))
        assert_error(r, 401, "revoked_token")
        assert_error(client.post("/api/v1/auth/refresh", headers=bearer(tokens["refresh_token"])), 401,
                     "revoked_token")
    assert_error(login(client, "gp-a1"), 401)  # the old password is gone too
    new = login(client, "gp-a1", "a-new-password-1").get_json()
    assert client.get("/api/v1/auth/me", headers=bearer(new["access_token"])).status_code == 200
    assert client.post("/api/v1/auth/refresh", headers=bearer(new["refresh_token"])).status_code == 200
    # other users keep theirs
    assert client.get("/api/v1/auth/me", headers=bearer(login(client, "gp-a2").get_json()["access_token"])
                      ).status_code == 200


def test_logout_without_naming_the_refresh_token_revokes_it(client, world):
    tokens = login(client, "gp-a1").get_json()
    refreshed = client.post("/api/v1/auth/refresh", headers=bearer(tokens["refresh_token"])).get_json()
    other_device = login(client, "gp-a1", addr="10.0.0.2").get_json()
    r = client.post("/api/v1/auth/logout", headers=bearer(tokens["access_token"]), json={})
    assert r.status_code == 204
    assert_error(client.post("/api/v1/auth/refresh", headers=bearer(tokens["refresh_token"])), 401,
                 "revoked_token")
    r = client.get("/api/v1/auth/me", headers=bearer(refreshed["access_token"]))
    assert_error(r, 401, "revoked_token")
    # the same account signed in elsewhere stays signed in
    assert client.get("/api/v1/auth/me", headers=bearer(other_device["access_token"])).status_code == 200
    r = client.post("/api/v1/auth/refresh", headers=bearer(other_device["refresh_token"]))
    assert r.status_code == 200
