"""Secure by default: only the demo and the tests run on the development secret, whatever GPO_ENV says;
a weak secret stops the production server with one line; production hides the API docs unless asked."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask

from server import create_app, manage
from server.config import DEV_SECRET, ConfigError

ROOT = Path(__file__).resolve().parents[2]
STRONG = "k" * 32


@pytest.fixture
def env(monkeypatch):
    """The environment without secrets, docs setting or GPO_ENV; set(name=value) adds to it."""
    for name in ("SECRET_KEY", "JWT_SECRET_KEY", "GPO_ENV", "API_DOCS"):
        monkeypatch.delenv(name, raising=False)

    def set_(**values):
        for name, value in values.items():
            monkeypatch.setenv(name, value)
    return set_


def build(**overrides):
    return create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", **overrides})


@pytest.mark.parametrize("gpo_env", [None, "production", "Production", "development", "test"])
@pytest.mark.parametrize("secret", [None, DEV_SECRET, "x" * 31])
def test_an_app_refuses_a_development_or_short_secret_whatever_gpo_env_says(env, gpo_env, secret):
    if gpo_env:
        env(GPO_ENV=gpo_env)
    if secret:
        env(SECRET_KEY=secret, JWT_SECRET_KEY=secret)
    with pytest.raises(ConfigError, match="JWT_SECRET_KEY|SECRET_KEY"):
        build()
    env(SECRET_KEY=STRONG)  # one strong secret is not enough
    with pytest.raises(ConfigError, match="JWT_SECRET_KEY"):
        build()


def test_strong_secrets_start_and_production_hides_the_api_docs(env):
    env(SECRET_KEY=STRONG, JWT_SECRET_KEY="j" * 40)
    client = build().test_client()
    for path in ("/openapi.json", "/docs", "/static/swagger-ui/swagger-ui-bundle.js"):
        r = client.get(path)
        assert r.status_code == 404 and r.get_json()["code"] == 404, path
    env(API_DOCS="1")  # configured: published
    client = build().test_client()
    assert client.get("/openapi.json").status_code == 200 and client.get("/docs").status_code == 200


def test_only_the_explicit_development_setting_allows_the_development_secret(env):
    client = build(DEVELOPMENT=True).test_client()  # what the demo and the tests pass
    assert client.get("/openapi.json").status_code == 200
    env(API_DOCS="0")
    assert build(DEVELOPMENT=True).test_client().get("/openapi.json").status_code == 404
    env(DEVELOPMENT="1")  # not read from the environment: no variable turns production into development
    with pytest.raises(ConfigError):
        build()


@pytest.mark.parametrize("name", ["ACCESS_TOKEN_MINUTES", "REFRESH_TOKEN_MINUTES"])
@pytest.mark.parametrize("minutes", ["0", "-5"])
def test_a_token_lifetime_of_zero_or_less_is_refused(env, name, minutes):
    """flask-jwt-extended signs tokens without an expiry when the lifetime is zero: such a token would never
    stop working, and logout's record of it (its `exp`) could not be written (a 500)."""
    env(**{name: minutes})
    with pytest.raises(ConfigError, match=name):
        build(DEVELOPMENT=True)  # refused even for the demo and the tests
    env(**{name: "1"})
    build(DEVELOPMENT=True)


def test_a_bad_api_docs_value_is_refused(env):
    env(SECRET_KEY=STRONG, JWT_SECRET_KEY=STRONG, API_DOCS="maybe")
    with pytest.raises(ConfigError, match="API_DOCS"):
        build()


@pytest.mark.parametrize("secret", [None, DEV_SECRET, "short"])
def test_serve_production_refuses_a_weak_secret_in_one_line(tmp_path, secret):
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "JWT_SECRET_KEY", "GPO_ENV")}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}", GPO_ENV="Production")
    if secret:
        env.update(SECRET_KEY=secret, JWT_SECRET_KEY=secret)
    done = subprocess.run([sys.executable, "-m", "server.manage", "serve-production", "--port", "5261"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith("gpo: configuration refused: SECRET_KEY"), lines[0]


def test_the_demo_server_runs_on_the_development_secret(env, monkeypatch):
    started = []
    monkeypatch.setattr(manage, "migrate", lambda *a, **k: None)
    monkeypatch.setattr(manage, "_demo", lambda app: None)
    monkeypatch.setattr(Flask, "run", lambda app, **kw: started.append(app))
    manage.main(["serve", "--port", "5262"])
    assert started and started[0].config["JWT_SECRET_KEY"] == DEV_SECRET
    assert started[0].test_client().get("/openapi.json").status_code == 200


def test_the_console_links_the_api_docs_only_where_they_are_published(clean_app, client):
    """Production hides /docs (404): the console must not offer a link to it there."""
    assert clean_app.config["API_DOCS"]  # the tests' app is the demo's
    assert 'href="/docs"' in client.get("/console/households").get_data(as_text=True)
    clean_app.config["API_DOCS"] = False
    try:
        assert 'href="/docs"' not in client.get("/console/households").get_data(as_text=True)
    finally:
        clean_app.config["API_DOCS"] = True
