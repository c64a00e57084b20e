"""Chronic-disease follow-ups: signed visit records, amendments, lost/death entries, worklist, indicators."""
from flask import Response, request
from flask_jwt_extended import current_user
from sqlalchemy import select

import printing

from .. import clock, db, printouts
from ..api import Blueprint, page_schema, paginate
from ..audit import services as audit
from ..referrals.worklist import referral_offers
from ..scope import Actor
from . import export, indicators, services, slip
from .models import FollowUp
from .schemas import (AmendmentSchema, DeathSchema, ExportArgs, FollowUpRowSchema, FollowUpSchema,
                      IndicatorArgs, IndicatorReportSchema, LostSchema, ResidentListArgs, TeamListArgs,
                      VisitCreateSchema, WorklistArgs, WorklistSchema)
from .worklist import worklist as build_worklist

blp = Blueprint("followups", __name__, url_prefix="/api/v1",
                description="Chronic-disease follow-ups (hypertension, type 2 diabetes)")
READERS = ("gp", "center_staff", "admin")
RECORDERS = services.RECORDERS
FollowUpPage = page_schema(FollowUpSchema, "FollowUpPage")
FollowUpRowPage = page_schema(FollowUpRowSchema, "FollowUpRowPage")


def _actor() -> Actor:
    return Actor.of(current_user)



def _language() -> str:
    return request.accept_languages.best_match(["en", "zh"], default="en")


def _with_chain(session, rows: list[FollowUp]) -> list[FollowUp]:
    """Mark each record with the amendment that replaced it (None: it is the effective one)."""
    ids = [row.id for row in rows]
    replaced = dict(session.execute(select(FollowUp.amends_id, FollowUp.id)
                                    .where(FollowUp.amends_id.in_(ids))).all()) if ids else {}
    for row in rows:
        row.superseded_by = replaced.get(row.id)
        row.effective = row.superseded_by is None
    return rows


def _signed(row: FollowUp, created: bool):
    session = db.session()
    _with_chain(session, [row])
    session.commit()
    return row, 201 if created else 200


@blp.route("/followups", methods=["POST"])
@blp.auth(*RECORDERS)
@blp.arguments(VisitCreateSchema)
@blp.response(201, FollowUpSchema)
@blp.alt_response(200, schema=FollowUpSchema, description="The same record was already stored (a resend)")
@blp.alt_response(409, description="The id is already used for different content")
def record_visit(data):
    """Sign a follow-up visit; the server re-runs the shared rules and stores their decisions."""
    row, created = services.record_visit(db.session(), _actor(), data, today=clock.today(), language=_language())
    return _signed(row, created)


@blp.route("/followups", methods=["GET"])
@blp.auth(*READERS)
@blp.arguments(TeamListArgs, location="query")
@blp.response(200, FollowUpRowPage)
def list_followups(args):
    """Effective follow-up records in your scope, newest first (filter by team, condition, dates, member)."""
    session = db.session()
    page = paginate(session, services.team_followups(session, _actor(), args), args["page"],
                    args["page_size"], rows=True)
    audit.record(session, _actor(), "list", "followup", None,
                 detail={"shown": [item["id"] for item in page["items"]]})
    session.commit()
    return page


@blp.route("/followups/<uuid_text:followup_id>")
@blp.auth(*READERS)
@blp.response(200, FollowUpSchema)
def get_followup(followup_id):
    """One record with the form, the server's assessment and its place in the amendment chain."""
    session = db.session()
    row = services.get_followup(session, _actor(), followup_id)
    _with_chain(session, [row])
    session.commit()
    return row


@blp.route("/followups/<uuid_text:followup_id>/slip")
@blp.auth(*READERS)
@blp.arguments(printouts.PrintArgs, location="query")
@blp.doc(responses=printouts.RESPONSES)
def get_slip(args, followup_id):
    """The visit slip (随访/预约单) of a visit record: ESC/POS bytes or their PNG preview (logged as a read)."""
    session = db.session()
    document = slip.printable(session, services.get_followup(session, _actor(), followup_id))
    session.commit()
    return printouts.response(printing.follow_up_slip, document, args, "follow-up-slip")


@blp.route("/followups/<uuid_text:followup_id>/amendments", methods=["POST"])
@blp.auth(*RECORDERS)
@blp.arguments(AmendmentSchema)
@blp.response(201, FollowUpSchema)
@blp.alt_response(200, schema=FollowUpSchema, description="The same amendment was already stored")
@blp.alt_response(409, description="Not the latest version, or the id is used for different content")
def amend(data, followup_id):
    """Correct a signed visit: a new record pointing to the latest version, with the reason."""
    row, created = services.amend(db.session(), _actor(), followup_id, data, today=clock.today(),
                                  language=_language())
    return _signed(row, created)


@blp.route("/followups/lost", methods=["POST"])
@blp.auth(*RECORDERS)
@blp.arguments(LostSchema)
@blp.response(201, FollowUpSchema)
@blp.alt_response(200, schema=FollowUpSchema, description="The same entry was already stored")
def record_lost(data):
    """Record a patient lost to follow-up (the reason); the registry entry becomes "lost"."""
    row, created = services.record_lost(db.session(), _actor(), data, today=clock.today())
    return _signed(row, created)


@blp.route("/followups/deaths", methods=["POST"])
@blp.auth(*RECORDERS)
@blp.arguments(DeathSchema)
@blp.response(201, FollowUpSchema)
@blp.alt_response(200, schema=FollowUpSchema, description="The same entry was already stored")
def record_death(data):
    """Record a death (date, cause); the resident's file is marked deceased."""
    row, created = services.record_death(db.session(), _actor(), data, today=clock.today())
    return _signed(row, created)


@blp.route("/residents/<resident_id>/followups")
@blp.auth(*READERS)
@blp.arguments(ResidentListArgs, location="query")
@blp.response(200, FollowUpPage)
def resident_followups(args, resident_id):
    """A resident's follow-up records, newest first (the read is logged)."""
    session = db.session()
    res, stmt = services.resident_followups(session, _actor(), resident_id, args)
    page = paginate(session, stmt, args["page"], args["page_size"])
    _with_chain(session, page["items"])
    audit.record(session, _actor(), "read", "followup", None, res.id,
                 {"shown": [row.id for row in page["items"]]})
    session.commit()
    return page


@blp.route("/worklist")
@blp.auth(*READERS)
@blp.arguments(WorklistArgs, location="query")
@blp.response(200, WorklistSchema)
def worklist(args):
    """Who to see: due this week, overdue, not seen this year, 2-week rechecks, referrals; in route order."""
    session = db.session()
    result = build_worklist(session, _actor(), args, clock.today())
    start = (args["page"] - 1) * args["page_size"]
    items = result["items"]
    result.update(items=items[start:start + args["page_size"]], page=args["page"],
                  page_size=args["page_size"], total=len(items))
    referral_offers(session, _actor(), result["items"])  # the page's only
    audit.record(session, _actor(), "read", "worklist", str(result["team_id"] or ""),
                 detail={"shown": [item["resident_id"] for item in result["items"]]})
    session.commit()
    return result


@blp.route("/followups/indicators")
@blp.auth(*READERS)
@blp.arguments(IndicatorArgs, location="query")
@blp.response(200, IndicatorReportSchema)
def get_indicators(args):
    """Management indicators per team, center and district for a year or a quarter."""
    session = db.session()
    report = indicators.indicators(session, _actor(), args)
    audit.record(session, _actor(), "read", "indicators", None, detail=_report_detail(args))
    session.commit()
    return report


@blp.route("/followups/indicators/export")
@blp.auth(*READERS)
@blp.arguments(ExportArgs, location="query")
@blp.response(200, description="XLSX or CSV (UTF-8 with BOM) file",
              content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
def export_indicators(args):
    """The indicators as an XLSX or CSV file for Excel."""
    session = db.session()
    report = indicators.indicators(session, _actor(), args)
    audit.record(session, _actor(), "export", "indicators", None, detail=_report_detail(args))
    session.commit()
    name = f"followup-indicators-{report['year']}" + (f"-Q{report['quarter']}" if report["quarter"] else "")
    if args["format"] == "csv":
        body, mime = export.to_csv(report), "text/csv; charset=utf-8"
    else:
        body, mime = export.to_xlsx(report), export_xlsx_type()
    return Response(body, mimetype=mime,
                    headers={"Content-Disposition": f'attachment; filename="{name}.{args["format"]}"'})


def export_xlsx_type() -> str:
    """The XLSX media type."""
    return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _report_detail(args: dict) -> dict:
    return {k: args[k] for k in ("year", "quarter", "team_id", "center_id", "condition", "format") if k in args}
