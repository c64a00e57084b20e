"""Configuration from the environment; only the demo and the tests may run on the development secret."""
from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from gpcore.referral.deadlines import parse_response_days

DEV_SECRET = "dev-only-secret-do-not-use-in-production"  # noqa: S105 - see check()
MIN_SECRET_LENGTH = 32
_SOURCE_TREE = Path(__file__).resolve().parent.parent
# In a checkout, instance/ beside the code (make run, the tests); installed as a wheel, the code sits in
# site-packages, which is no place for a database: ./instance where the operator runs `gpo`.
INSTANCE = Path(os.environ.get("GPO_INSTANCE") or (
    _SOURCE_TREE / "instance" if (_SOURCE_TREE / "setup.cfg").exists() else Path.cwd() / "instance"))


class ConfigError(RuntimeError):
    """The service must not start with this configuration."""


def _minutes(name: str, default: int) -> dt.timedelta:
    return dt.timedelta(minutes=int(os.environ.get(name, default)))


def _flag(name: str) -> bool | None:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return None
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be 1 or 0 (got {value!r})")


def _response_days(text: str | None) -> dict[str, int]:
    try:
        return parse_response_days(text)
    except ValueError as err:
        raise ConfigError(f"REFERRAL_RESPONSE_DAYS: {err}") from None


def from_env(overrides: dict | None = None) -> dict:
    """Build the Flask config mapping from environment variables, then apply overrides.

    DEVELOPMENT is never read from the environment: only code passes it (the demo's `serve` and the test
    suite), so no environment variable, misspelt or missing, turns a production server into a development
    one."""
    env = os.environ
    cfg = {
        "DEVELOPMENT": False,
        "SERVES_REQUESTS": True,
        "API_DOCS": _flag("API_DOCS"),
        # json: one object a line for a log shipper; text: the same, redacted, for a terminal.
        "LOG_FORMAT": env.get("LOG_FORMAT", "json"),
        # /metrics answers loopback, and anyone sending this as a Bearer token (a Prometheus elsewhere).
        "METRICS_TOKEN": env.get("METRICS_TOKEN") or None,
        "SQLALCHEMY_DATABASE_URI": env.get("DATABASE_URL", f"sqlite:///{INSTANCE / 'gpoutreach.db'}"),
        "SECRET_KEY": env.get("SECRET_KEY", DEV_SECRET),
        "JWT_SECRET_KEY": env.get("JWT_SECRET_KEY", DEV_SECRET),
        # Seals the tablets' device secrets and escrow keys at rest (server/devices/keys.py); unset: SECRET_KEY.
        "DEVICE_KEYS_SECRET": env.get("DEVICE_KEYS_SECRET") or None,
        "JWT_ACCESS_TOKEN_EXPIRES": _minutes("ACCESS_TOKEN_MINUTES", 30),
        "JWT_REFRESH_TOKEN_EXPIRES": _minutes("REFRESH_TOKEN_MINUTES", 60 * 24 * 14),
        "JWT_TOKEN_LOCATION": ["headers"],
        "LOGIN_MAX_FAILURES_PER_ACCOUNT": int(env.get("LOGIN_MAX_FAILURES_PER_ACCOUNT", 5)),
        "LOGIN_MAX_FAILURES_PER_ADDRESS": int(env.get("LOGIN_MAX_FAILURES_PER_ADDRESS", 20)),
        "LOGIN_FAILURE_WINDOW": _minutes("LOGIN_FAILURE_WINDOW_MINUTES", 15),
        "LOGIN_FIRST_DELAY_SECONDS": int(env.get("LOGIN_FIRST_DELAY_SECONDS", 30)),
        "LOGIN_MAX_DELAY": _minutes("LOGIN_MAX_DELAY_MINUTES", 15),
        # Reverse proxies in front that append to X-Forwarded-For: the client address is the one the
        # outermost of them saw (werkzeug's ProxyFix); 0 trusts no header.
        "TRUSTED_PROXIES": int(env.get("TRUSTED_PROXIES", 0)),
        # Request bodies (413 beyond): API JSON (a tablet's push of 2,000 records fits), an import upload
        # (the file and its multipart envelope), one HL7 or FHIR lab message (as the MLLP frame limit).
        "MAX_JSON_BYTES": int(env.get("MAX_JSON_BYTES", 4 * 1024 * 1024)),
        "MAX_IMPORT_BYTES": int(env.get("MAX_IMPORT_BYTES", 51 * 1024 * 1024)),
        "MAX_LAB_MESSAGE_BYTES": int(env.get("MAX_LAB_MESSAGE_BYTES", 8 * 1024 * 1024)),
        # Working days to a specialist's first response, by urgency (gpcore/referral/deadlines.py).
        "REFERRAL_RESPONSE_DAYS": _response_days(env.get("REFERRAL_RESPONSE_DAYS")),
        # A referral's image (server/referrals/attachments.py): the image itself (422/413 beyond), and the
        # upload's body with its multipart envelope and caption (413 before anything is read).
        "MAX_ATTACHMENT_BYTES": int(env.get("MAX_ATTACHMENT_BYTES", 5 * 1024 * 1024)),
        "MAX_ATTACHMENT_BODY_BYTES": int(env.get("MAX_ATTACHMENT_BYTES", 5 * 1024 * 1024)) + 64 * 1024,
        "TEAM_CAPACITY_MIN": int(env.get("TEAM_CAPACITY_MIN", 10_000)),
        "TEAM_CAPACITY_MAX": int(env.get("TEAM_CAPACITY_MAX", 15_000)),
        # SMS (server/notifications/gateways.py): "file" appends JSON lines to SMS_FILE; "http" POSTs to
        # SMS_HTTP_URL within SMS_HTTP_TIMEOUT seconds. The worker (manage notify-worker) sends; requests never do.
        "SMS_GATEWAY": env.get("SMS_GATEWAY", "file"),
        "SMS_FILE": env.get("SMS_FILE", str(INSTANCE / "sms.jsonl")),
        "SMS_HTTP_URL": env.get("SMS_HTTP_URL"),
        "SMS_HTTP_TIMEOUT": float(env.get("SMS_HTTP_TIMEOUT", 5)),
        "SMS_HTTP_TOKEN": env.get("SMS_HTTP_TOKEN"),
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
    if cfg["API_DOCS"] is None:  # unset: published by the demo, hidden in production
        cfg["API_DOCS"] = bool(cfg["DEVELOPMENT"])
    if not cfg["API_DOCS"]:
        cfg["OPENAPI_URL_PREFIX"] = None  # flask-smorest then serves neither /openapi.json nor /docs
    return cfg


def check(cfg: dict) -> None:
    """Refuse impossible settings, and serving with the development secret or a short one, unless this is
    the demo or the tests.

    Commands that serve no requests (migrate, import, the MLLP listener) sign and check no tokens, so they
    pass SERVES_REQUESTS=False and need no secret."""
    for key in ("LOGIN_MAX_FAILURES_PER_ACCOUNT", "LOGIN_MAX_FAILURES_PER_ADDRESS"):
        if cfg[key] < 1:
            raise ConfigError(f"{key} must be 1 or more")
    if cfg["TRUSTED_PROXIES"] < 0:
        raise ConfigError("TRUSTED_PROXIES must be 0 or more")
    for key, name in (("JWT_ACCESS_TOKEN_EXPIRES", "ACCESS_TOKEN_MINUTES"),
                      ("JWT_REFRESH_TOKEN_EXPIRES", "REFRESH_TOKEN_MINUTES")):
        # flask-jwt-extended gives a token no expiry at all when its lifetime is zero (or False)
        if not isinstance(cfg[key], dt.timedelta) or cfg[key] <= dt.timedelta(0):
            raise ConfigError(f"{name} must be 1 or more: 0 or less would sign tokens that never expire")
    if cfg.get("DEVELOPMENT") or not cfg.get("SERVES_REQUESTS", True):
        return
    for key in ("SECRET_KEY", "JWT_SECRET_KEY"):
        value = cfg.get(key) or ""
        if value == DEV_SECRET:
            problem = "is unset (the public development value)"
        elif len(value) < MIN_SECRET_LENGTH:
            problem = "is not set" if not value else f"is shorter than {MIN_SECRET_LENGTH} characters"
        else:
            continue
        raise ConfigError(f"{key} {problem}: set it to a random value of {MIN_SECRET_LENGTH}+ characters, "
                          f"e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(32))'")
