"""What the consoles draw beside the cases: the loop's metrics (and their XLSX), a case's BP and glucose trends."""
from flask import Response
from flask_jwt_extended import current_user

from .. import clock, db
from ..api import Blueprint
from ..audit import services as audit
from ..followups.routes import export_xlsx_type
from ..scope import Actor
from . import metrics as service
from .metrics_schemas import MetricsArgs, MetricsSchema, TrendsSchema
from .trends import trends as case_trends

blp = Blueprint("referral_metrics", __name__, url_prefix="/api/v1",
                description="Referral metrics and a case's trends")
READERS = ("gp", "center_staff", "specialist", "admin")


def _actor() -> Actor:
    return Actor.of(current_user)


def _detail(args: dict) -> dict:
    return {k: str(v) for k, v in args.items()}


@blp.route("/referrals/metrics")
@blp.auth(*READERS)
@blp.arguments(MetricsArgs, location="query")
@blp.response(200, MetricsSchema)
def get_metrics(args):
    """The loop's metrics per specialty, hospital, center or team (your team, center, pool; admin all)."""
    session = db.session()
    report = service.metrics(session, _actor(), args, clock.today())
    audit.record(session, _actor(), "read", "referral_metrics", None, detail=_detail(args))
    session.commit()
    return report


@blp.route("/referrals/metrics/export")
@blp.auth(*READERS)
@blp.arguments(MetricsArgs, location="query")
@blp.response(200, description="XLSX file", content_type=export_xlsx_type())
def export_metrics(args):
    """The same metrics as an XLSX file for Excel."""
    session = db.session()
    report = service.metrics(session, _actor(), args, clock.today())
    audit.record(session, _actor(), "export", "referral_metrics", None, detail=_detail(args))
    session.commit()
    name = f"referral-metrics-{report['by']}-{report['date_from']}-{report['date_to']}.xlsx"
    return Response(service.to_xlsx(report), mimetype=export_xlsx_type(),
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@blp.route("/referrals/<referral_id>/trends")
@blp.auth(*READERS)
@blp.response(200, TrendsSchema)
def get_trends(referral_id):
    """BP and fasting glucose of the case's resident over the year before it was sent (the read is logged)."""
    session = db.session()
    result = case_trends(session, _actor(), referral_id)
    session.commit()
    return result
