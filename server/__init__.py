"""The center server: a small app factory that only wires configuration, extensions and blueprints.

Nothing but the configuration is imported with the package: create_app imports the rest after the
configuration passed its check, so `python -m server.manage` refuses a weak secret before loading the API's
libraries, and a command's app that serves no requests (an MLLP listener, the notification worker) never loads
them (~0.3 s of CPU at each command's start).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from . import config as config_mod

if TYPE_CHECKING:
    from flask import Flask


def _blueprints():
    from .assignment.routes import blp as assignment
    from .audit.routes import blp as audit
    from .auth.routes import blp as auth, users_blp
    from .console.referral_pages import blp as referral_console
    from .console.routes import blp as console
    from .devices.routes import blp as devices
    from .directory.routes import blp as directory
    from .followups.routes import blp as followups
    from .health import blp as health
    from .households.routes import blp as households
    from .imports.routes import blp as imports
    from .labs.routes import blp as labs
    from .notifications.routes import blp as notifications
    from .org.routes import blp as org
    from .referrals.metrics_routes import blp as referral_metrics
    from .referrals.attachment_routes import blp as referral_attachments
    from .referrals.fhir_routes import blp as referral_fhir
    from .referrals.routes import blp as referrals
    from .sync.routes import blp as sync

    api_blueprints = [auth, users_blp, org, households, assignment, imports, audit, followups, labs, sync,
                      directory, referrals, devices, referral_metrics, referral_attachments, referral_fhir,
                      notifications]
    return api_blueprints, [console, referral_console, health]


def create_app(overrides: dict | None = None) -> Flask:
    """Build the Flask app from the environment (and overrides, for tests)."""
    cfg = config_mod.from_env(overrides)
    config_mod.check(cfg)
    from flask import Flask

    from . import db, logs

    app = Flask(__name__, instance_path=str(config_mod.INSTANCE), static_folder=None)
    app.config.update(cfg)
    app.json.ensure_ascii = False  # Chinese stays readable in responses and logs
    logs.init_app(app)

    if app.config["TRUSTED_PROXIES"]:
        from werkzeug.middleware.proxy_fix import ProxyFix
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["TRUSTED_PROXIES"])
    db.init_app(app)
    if not app.config["SERVES_REQUESTS"]:
        # An operator command's app (server/manage.py): the database and every mapped class, and none of the
        # routes, API documentation, tokens and request hooks, which cost ~1 s of CPU at each command's start.
        from . import models  # noqa: F401 (the mappers' relationships name classes of every domain)
        return app
    from flask import send_from_directory

    from . import limits
    from .api import Api
    from .audit import requests as audit_requests
    from .auth.tokens import jwt
    from .console.routes import root as console_root

    jwt.init_app(app)
    api = Api(app)
    limits.init_app(app)
    api_blueprints, plain_blueprints = _blueprints()
    for blp in api_blueprints:
        api.register_blueprint(blp)
    from .referrals.fhir_routes import document_errors
    document_errors(api)  # the FHIR paths' errors are OperationOutcomes
    for blp in plain_blueprints:
        app.register_blueprint(blp)

    audit_requests.init_app(app)
    # Imported here, not at the top: serve-production points the client library at its multiprocess
    # folder before the first import (server/metrics.py).
    from . import metrics
    metrics.init_app(app)
    app.add_url_rule("/", "root", console_root)

    if app.config["API_DOCS"]:
        # Swagger UI assets ship in a Python package so /docs works without internet access.
        import swagger_ui_bundle

        @app.route("/static/swagger-ui/<path:filename>")
        def swagger_assets(filename):
            return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename)

    return app
