"""Configuration from the environment; production refuses the development defaults."""
from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

DEV_SECRET = "dev-only-secret-do-not-use-in-production"  # noqa: S105 - refused in production, see check()
INSTANCE = Path(os.environ.get("GPO_INSTANCE", Path(__file__).resolve().parent.parent / "instance"))


class ConfigError(RuntimeError):
    """The service must not start with this configuration."""


def _minutes(name: str, default: int) -> dt.timedelta:
    return dt.timedelta(minutes=int(os.environ.get(name, default)))


def from_env(overrides: dict | None = None) -> dict:
    """Build the Flask config mapping from environment variables, then apply overrides."""
    env = os.environ
    cfg = {
        "ENV_NAME": env.get("GPO_ENV", "development"),
        "SQLALCHEMY_DATABASE_URI": env.get("DATABASE_URL", f"sqlite:///{INSTANCE / 'gpoutreach.db'}"),
        "SECRET_KEY": env.get("SECRET_KEY", DEV_SECRET),
        "JWT_SECRET_KEY": env.get("JWT_SECRET_KEY", DEV_SECRET),
        "JWT_ACCESS_TOKEN_EXPIRES": _minutes("ACCESS_TOKEN_MINUTES", 30),
        "JWT_REFRESH_TOKEN_EXPIRES": _minutes("REFRESH_TOKEN_MINUTES", 60 * 24 * 14),
        "JWT_TOKEN_LOCATION": ["headers"],
        "LOGIN_MAX_FAILURES_PER_ACCOUNT": int(env.get("LOGIN_MAX_FAILURES_PER_ACCOUNT", 5)),
        "LOGIN_MAX_FAILURES_PER_ADDRESS": int(env.get("LOGIN_MAX_FAILURES_PER_ADDRESS", 20)),
        "LOGIN_FAILURE_WINDOW": _minutes("LOGIN_FAILURE_WINDOW_MINUTES", 15),
        "TEAM_CAPACITY_MIN": int(env.get("TEAM_CAPACITY_MIN", 10_000)),
        "TEAM_CAPACITY_MAX": int(env.get("TEAM_CAPACITY_MAX", 15_000)),
        # OpenAPI / docs (flask-smorest)
        "API_TITLE": "GP Outreach",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "/docs",
        "OPENAPI_SWAGGER_UI_URL": "/static/swagger-ui/",
        "API_SPEC_OPTIONS": {
            "components": {
                "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
            },
        },
        "PROPAGATE_EXCEPTIONS": False,
    }
    cfg.update(overrides or {})
    return cfg


def check(cfg: dict) -> None:
    """Refuse to run production with a development secret or a short one."""
    if cfg["ENV_NAME"] != "production":
        return
    for key in ("SECRET_KEY", "JWT_SECRET_KEY"):
        value = cfg.get(key) or ""
        if value == DEV_SECRET or len(value) < 32:
            raise ConfigError(f"{key} must be set to a random value of 32+ characters in production")
