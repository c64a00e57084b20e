"""Sign-in, tokens, revocation, disabling, throttling; every error in the one shape."""
import datetime as dt

import pytest

from server import create_app

PW = "correct-horse-1"


def login(client, username, password=PW, addr="10.0.0.1"):
    return client.post("/api/v1/auth/login", json={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": addr})


def assert_error(resp, code, reason_key=None, reason=None):
    body = resp.get_json()
    assert resp.status_code == code, body
    assert body["code"] == code and body["status"]
    if reason_key:
        assert body["errors"][reason_key] == reason, body


def test_login_returns_tokens_and_me(client, world):
    r = login(client, "gp-a1")
    assert r.status_code == 200
    tokens = r.get_json()
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] > 0
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.get_json()["username"] == "gp-a1"
    assert me.get_json()["team_id"] == world.teams["A1"]


def test_wrong_password_and_unknown_user_look_the_same(client, world):
    a, b = login(client, "gp-a1", "nope"), login(client, "nobody", "nope")
    assert_error(a, 401, "authentication", "invalid_credentials")
    assert_error(b, 401, "authentication", "invalid_credentials")
    assert a.get_json()["message"] == b.get_json()["message"]


def test_missing_field_is_named(client, world):
    r = client.post("/api/v1/auth/login", json={"username": "gp-a1"})
    assert r.status_code == 422
    assert "password" in r.get_json()["errors"]["json"]


def test_refresh_gives_a_new_access_token(client, world):
    tokens = login(client, "gp-a1").get_json()
    r = client.post("/api/v1/auth/refresh", headers={"Authorization": f"Bearer {tokens['refresh_token']}"})
    assert r.status_code == 200 and r.get_json()["access_token"]
    # an access token is not a refresh token
    r = client.post("/api/v1/auth/refresh", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert_error(r, 401, "authentication", "invalid_token")


# The "restarted" app has its own engine: it must see the revocation committed.
@pytest.mark.commits
def test_logout_revokes_both_tokens_and_survives_restart(client, clean_app, world):
    tokens = login(client, "gp-a1").get_json()
    h = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert client.post("/api/v1/auth/logout", headers=h, json={"refresh_token": tokens["refresh_token"]}
                       ).status_code == 204
    assert_error(client.get("/api/v1/auth/me", headers=h), 401, "authentication", "revoked_token")
    r = client.post("/api/v1/auth/refresh", headers={"Authorization": f"Bearer {tokens['refresh_token']}"})
    assert_error(r, 401, "authentication", "revoked_token")
    # a new process with the same database still refuses them
    restarted = create_app({"SQLALCHEMY_DATABASE_URI": clean_app.config["SQLALCHEMY_DATABASE_URI"],
                            "DEVELOPMENT": True})
    assert_error(restarted.test_client().get("/api/v1/auth/me", headers=h), 401, "authentication",
                 "revoked_token")


def test_disabling_a_user_stops_their_tokens_at_once(client, as_user, world):
    tokens = login(client, "gp-a1").get_json()
    h = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert client.get("/api/v1/households", headers=h).status_code == 200
    r = as_user("admin").patch(f"/api/v1/users/{world.users['gp-a1']}", json={"is_active": False})
    assert r.status_code == 200 and r.get_json()["is_active"] is False
    assert_error(client.get("/api/v1/households", headers=h), 401, "authentication", "user_disabled")
    assert_error(login(client, "gp-a1"), 401, "authentication", "user_disabled")
    # enabled again: old tokens stay dead, a new sign-in works
    as_user("admin").patch(f"/api/v1/users/{world.users['gp-a1']}", json={"is_active": True})
    assert_error(client.get("/api/v1/households", headers=h), 401, "authentication", "user_disabled")
    assert login(client, "gp-a1").status_code == 200


def test_expired_and_garbage_and_missing_tokens(client, clean_app, world):
    from flask_jwt_extended import create_access_token

    with clean_app.app_context():
        old = create_access_token(identity=str(world.users["gp-a1"]), expires_delta=dt.timedelta(seconds=-5))
    assert_error(client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {old}"}), 401,
                 "authentication", "expired_token")
    assert_error(client.get("/api/v1/auth/me", headers={"Authorization": "Bearer abc.def.ghi"}), 401,
                 "authentication", "invalid_token")
    assert_error(client.get("/api/v1/auth/me"), 401, "authentication", "missing_token")


def test_throttle_per_account_with_retry_after(client, clean_app, world):
    limit = clean_app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]
    for _ in range(limit):
        assert login(client, "gp-a1", "bad", addr="10.0.1.1").status_code == 401
    r = login(client, "gp-a1", PW, addr="10.0.1.1")  # even the right password waits
    assert_error(r, 429, "authentication", "throttled_account")
    assert 0 < int(r.headers["Retry-After"]) <= 15 * 60
    # other accounts are not affected, nor this account from elsewhere (tests/server/test_signin.py)
    assert login(client, "gp-a2", addr="10.0.1.1").status_code == 200


def test_throttle_per_address(client, clean_app, world):
    clean_app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"] = 3
    for name in ("x1", "x2", "x3"):
        assert login(client, name, "bad", addr="10.9.9.9").status_code == 401
    assert_error(login(client, "gp-a1", addr="10.9.9.9"), 429, "authentication", "throttled_address")
    assert login(client, "gp-a1", addr="10.9.9.8").status_code == 200


def test_success_clears_the_account_counter(client, clean_app, world):
    limit = clean_app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]
    for _ in range(limit - 1):
        login(client, "gp-a1", "bad")
    assert login(client, "gp-a1").status_code == 200
    for _ in range(limit - 1):
        assert login(client, "gp-a1", "bad").status_code == 401


def test_passwords_are_argon2_hashed(session, world):
    from server.auth.models import User

    u = session.get(User, world.users["gp-a1"])
    assert u.password_hash.startswith("$argon2id$") and PW not in u.password_hash


def test_role_check_is_403_in_the_error_shape(as_user, world):
    r = as_user("gp-a1").post("/api/v1/users/", json={})
    assert_error(r, 403, "authorization", "role")


def test_admin_creates_users_with_rules(as_user, world):
    admin = as_user("admin")
    r = admin.post("/api/v1/users/", json={"username": "new-gp", "password": "long-enough-pw", "full_name": "新",
                                           "role": "gp", "team_id": world.teams["A1"], "team_role": "nurse"})
    assert r.status_code == 201 and r.get_json()["center_id"] == world.centers["A"]
    r = admin.post("/api/v1/users/", json={"username": "lead2", "password": "long-enough-pw", "full_name": "x",
                                           "role": "gp", "team_id": world.teams["A1"],
                                           "team_role": "family_doctor", "is_team_leader": True})
    assert_error(r, 409)
    assert "is_team_leader" in r.get_json()["errors"]
    r = admin.post("/api/v1/users/", json={"username": "gp-no-team", "password": "long-enough-pw",
                                           "full_name": "x", "role": "gp", "team_role": "nurse"})
    assert_error(r, 422)
    assert "team_id" in r.get_json()["errors"]
