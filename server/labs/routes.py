"""Lab results: hospital feeds post HL7 v2 / FHIR; center staff resolve the unmatched queue; teams read reports.

HTTP status of the HL7 endpoint (the body is always the ACK, in the message's own character set):
200 with AA when stored (or stored before: the same ACK again); 422 with AR/AE when the message is refused;
503 with AE when it could not be stored (nothing was kept; send it again). 401 without a feed key, 403 for a
person's token: feeds authenticate with X-Lab-Feed-Key, never with a person's account.
"""
from flask import Response, current_app, request
from flask_jwt_extended import current_user, verify_jwt_in_request
from sqlalchemy import select

import printing

from .. import db, printouts
from ..api import Blueprint, page_schema, paginate
from ..limits import body_too_large
from ..errors import DomainError, Forbidden, Unauthorized
from ..scope import Actor
from . import feeds, intake, services
from .models import LabFeed, LabMessage
from .schemas import (LabCriticalCallSchema, LabDismissSchema, LabFeedCreatedSchema, LabFeedCreateSchema, LabFeedSchema, LabFHIRReceiptSchema,
                      LabMatchSchema, LabPagingArgs, LabQueueArgs, LabQueueDetailSchema, LabQueueItemSchema, LabReportListArgs,
                      LabRejectionArgs, LabRejectionDetailSchema, LabRejectionSchema, LabReportRowSchema,
                      LabReportSchema, LabSeenSchema)

blp = Blueprint("labs", __name__, url_prefix="/api/v1", description="Lab results from hospital feeds")
STAFF = ("center_staff", "admin")
READERS = ("gp", "center_staff", "admin")
HL7_TYPES = ("x-application/hl7-v2+er7", "application/hl7-v2", "text/plain", "application/octet-stream")
MAX_MESSAGE_BYTES = 8 * 1024 * 1024  # as the MLLP listener's frame limit
QueuePage = page_schema(LabQueueItemSchema, "LabQueuePage")
ReportPage = page_schema(LabReportRowSchema, "LabReportPage")
RejectionPage = page_schema(LabRejectionSchema, "LabRejectionPage")
FEED_KEY_DOC = {"parameters": [{"in": "header", "name": feeds.KEY_HEADER, "required": True,
                                "schema": {"type": "string"}, "description": "the feed's key"}]}


def _actor() -> Actor:
    return Actor.of(current_user)


def calling_feed(person_refused: str, no_key: str):
    """The hospital feed calling, by its X-Lab-Feed-Key; a person's token is refused (403, `person_refused`),
    no credentials at all is 401 (`no_key`). Lab intake and the referrals' FHIR endpoints both use it."""
    key = request.headers.get(feeds.KEY_HEADER)
    if key:
        return feeds.feed_for_key(db.session(), key)
    if request.headers.get("Authorization"):
        verify_jwt_in_request()  # an invalid token answers 401 through the JWT callbacks
        raise Forbidden(person_refused, {"authorization": "lab_feed_key"})
    raise Unauthorized(no_key, {"authentication": "missing_feed_key"})


def _feed():
    """The posting feed."""
    return calling_feed("Lab results are posted by hospital feeds with X-Lab-Feed-Key, not by people.",
                        "Send the feed's key in X-Lab-Feed-Key.")


def _body(allowed: tuple[str, ...]) -> bytes:
    if (request.mimetype or "") not in allowed:
        err = DomainError(f"Content-Type must be one of {', '.join(allowed)}.",
                          {"Content-Type": [f"{request.mimetype or '(none)'} is not accepted"]})
        err.status = 415
        raise err
    if (request.content_length or 0) > MAX_MESSAGE_BYTES:
        raise body_too_large(MAX_MESSAGE_BYTES)
    return request.get_data(cache=False)


@blp.route("/labs/hl7", methods=["POST"])
@blp.doc(**FEED_KEY_DOC, requestBody={"required": True, "content": {
    t: {"schema": {"type": "string", "format": "binary"}} for t in HL7_TYPES}})
@blp.response(200, description="AA: stored", content_type="x-application/hl7-v2+er7")
@blp.alt_response(422, description="AR/AE ACK: refused, nothing stored")
@blp.alt_response(503, description="AE ACK: could not be stored now; send again")
def post_hl7():
    """Receive one HL7 v2 ORU^R01 (raw bytes, any charset); the body answered is the HL7 ACK."""
    feed = _feed()
    raw = _body(HL7_TYPES)
    try:
        receipt = intake.receive_hl7(db.session(), feed, raw, transport="http",
                                     encodings=feeds.facility_encodings(current_app.config))
    except feeds.FeedRevoked:
        raise feeds.revoked_error() from None
    status = 200 if receipt.ack_code == "AA" else 503 if receipt.storage_failed else 422
    headers = {"Retry-After": "30"} if receipt.storage_failed else {}
    return Response(receipt.ack, status=status, headers=headers,
                    content_type=f"x-application/hl7-v2+er7; charset={receipt.encoding}")


@blp.route("/labs/fhir", methods=["POST"])
@blp.doc(**FEED_KEY_DOC, requestBody={"required": True, "content": {
    "application/fhir+json": {"schema": {"type": "object"}}, "application/json": {"schema": {"type": "object"}}}})
@blp.response(201, LabFHIRReceiptSchema, description="stored")
@blp.alt_response(200, schema=LabFHIRReceiptSchema, description="received before; nothing stored again")
@blp.alt_response(422, description="not an acceptable R4 Bundle; errors name the FHIR path")
def post_fhir():
    """Receive one FHIR R4 Bundle (Patient, DiagnosticReport, Observation)."""
    feed = _feed()
    raw = _body(("application/fhir+json", "application/json"))
    try:
        receipt = intake.receive_fhir(db.session(), feed, raw)
    except feeds.FeedRevoked:
        raise feeds.revoked_error() from None
    return {"message_id": receipt.message_id, "duplicate": receipt.duplicate,
            "match_status": receipt.match_status, "report_ids": receipt.report_ids}, \
        200 if receipt.duplicate else 201


@blp.route("/labs/feeds", methods=["GET"])
@blp.auth("admin")
@blp.response(200, LabFeedSchema(many=True))
def list_feeds():
    """Every lab feed (keys are never shown again)."""
    return db.session().scalars(select(LabFeed).order_by(LabFeed.id)).all()


@blp.route("/labs/feeds", methods=["POST"])
@blp.auth("admin")
@blp.arguments(LabFeedCreateSchema)
@blp.response(201, LabFeedCreatedSchema)
def create_feed(data):
    """Add a hospital feed; the answer holds its key, shown only this once."""
    session = db.session()
    feed, key = feeds.create_feed(session, _actor(), data)
    session.commit()
    feed.key = key
    return feed


@blp.route("/labs/feeds/<feed_id>/revoke", methods=["POST"])
@blp.auth("admin")
@blp.response(200, LabFeedSchema)
def revoke_feed(feed_id):
    """Stop a feed's key working; its messages stay."""
    session = db.session()
    feed = feeds.revoke_feed(session, _actor(), feed_id)
    session.commit()
    return feed


@blp.route("/labs/unmatched")
@blp.auth(*STAFF)
@blp.arguments(LabQueueArgs, location="query")
@blp.response(200, QueuePage)
def list_unmatched(args):
    """Messages no resident could be matched to with certainty, oldest first, for your center."""
    return paginate(db.session(), services.list_queue(_actor(), args), args["page"], args["page_size"])


@blp.route("/labs/unmatched/<message_id>")
@blp.auth(*STAFF)
@blp.response(200, LabQueueDetailSchema)
def get_unmatched(message_id):
    """One queued message with the patient as sent, its results and the resident suggested, if any (the read
    is logged). A message already matched is shown only while its resident is in your scope."""
    session = db.session()
    msg = services.get_queued(session, _actor(), message_id)
    _offer_same_patient(session, msg)
    session.commit()
    return msg


def _offer_same_patient(session, msg: LabMessage) -> None:
    # For the answer only (LabQueueDetailSchema.same_patient, suggested_resident): what staff may file with
    # this message, and the resident matching suggests they confirm.
    actor = _actor()
    msg.same_patient = services.same_patient(session, actor, msg)
    msg.suggested_resident = services.suggested_resident(session, actor, msg)


@blp.route("/labs/unmatched/<message_id>/match", methods=["POST"])
@blp.auth(*STAFF)
@blp.arguments(LabMatchSchema)
@blp.response(200, LabQueueDetailSchema)
def match_unmatched(data, message_id):
    """File a queued message under a resident of your center (logged), e.g. the suggested_resident to confirm
    it; `also` files other queued messages of the same patient with it. The answer offers those of the same
    patient still queued."""
    session = db.session()
    msg = services.match_by_hand(session, _actor(), _queued(message_id), data["resident_id"], data["also"])
    session.flush()
    _offer_same_patient(session, msg)
    session.commit()
    return msg


@blp.route("/labs/unmatched/<message_id>/dismiss", methods=["POST"])
@blp.auth(*STAFF)
@blp.arguments(LabDismissSchema)
@blp.response(200, LabQueueDetailSchema)
def dismiss_unmatched(data, message_id):
    """Take a message off the queue with a reason; it is kept, not deleted."""
    session = db.session()
    msg = services.dismiss(session, _actor(), _queued(message_id), data["reason"])
    session.flush()
    _offer_same_patient(session, msg)
    session.commit()
    return msg


@blp.route("/labs/rejections")
@blp.auth(*STAFF)
@blp.arguments(LabRejectionArgs, location="query")
@blp.response(200, RejectionPage)
def list_rejections(args):
    """Messages your center's feeds sent that were refused (AR/AE, or FHIR 422), newest first; kept with
    their bytes so a hospital's message is never lost."""
    return paginate(db.session(), services.list_rejections(_actor(), args), args["page"], args["page_size"])


@blp.route("/labs/rejections/<rejection_id>")
@blp.auth(*STAFF)
@blp.response(200, LabRejectionDetailSchema)
def get_rejection(rejection_id):
    """One refused message: the bytes as received, the reason and the ACK sent (the read is logged)."""
    session = db.session()
    rej = services.get_rejection(session, _actor(), rejection_id)
    session.commit()
    return rej


def _queued(message_id) -> LabMessage:
    return services.get_queued(db.session(), _actor(), message_id)


@blp.route("/residents/<resident_id>/lab-reports")
@blp.auth(*READERS)
@blp.arguments(LabPagingArgs, location="query")
@blp.response(200, ReportPage)
def resident_reports(args, resident_id):
    """A resident's lab reports, newest first; since_visit=true: new since the last follow-up visit, critical
    values first (the read is logged)."""
    session = db.session()
    page = paginate(session, services.list_for_resident(session, _actor(), resident_id, args), args["page"],
                    args["page_size"], rows=True)
    session.commit()
    return page


@blp.route("/lab-reports")
@blp.auth(*READERS)
@blp.arguments(LabReportListArgs, location="query")
@blp.response(200, ReportPage)
def list_reports(args):
    """Lab reports of your residents: critical values first, then newest; new=true for unseen ones."""
    return paginate(db.session(), services.list_reports(_actor(), args), args["page"], args["page_size"],
                    rows=True)


@blp.route("/lab-reports/<report_id>")
@blp.auth(*READERS)
@blp.response(200, LabReportSchema)
def get_report(report_id):
    """One lab report with everything the printed 检验报告单 needs and each value's history (logged)."""
    session = db.session()
    rep = services.get_report(session, _actor(), report_id)
    session.commit()
    return rep


@blp.route("/lab-reports/<report_id>/receipt")
@blp.auth(*READERS)
@blp.arguments(printouts.PrintArgs, location="query")
@blp.doc(responses=printouts.RESPONSES)
def get_receipt(args, report_id):
    """The printed 检验报告单 of one report: ESC/POS bytes for a 58/80 mm printer, or their PNG preview (logged)."""
    session = db.session()
    rep = services.get_report(session, _actor(), report_id)
    session.commit()
    return printouts.response(printing.lab_report, services.printable(rep, rep.resident), args, "lab-report")


@blp.route("/lab-reports/<report_id>/critical-call", methods=["PUT"])
@blp.auth("gp")
@blp.arguments(LabCriticalCallSchema)
@blp.response(200, LabReportSchema)
@blp.alt_response(409, description="the report has no critical value, or changed since report_changed_at")
def note_critical_call(data, report_id):
    """Note that your team phoned the report's critical values through to the patient (when, what was said;
    standards section 6). The printed report then shows it; a correction arriving later asks for a new call."""
    session = db.session()
    actor = _actor()
    rep = services.note_critical_call(session, actor, services.get_report(session, actor, report_id),
                                      data["note"], data["report_changed_at"], data["called_at"])
    session.commit()
    return rep


@blp.route("/lab-reports/<report_id>/seen", methods=["POST"])
@blp.auth("gp")
@blp.response(200, LabSeenSchema)
def mark_seen(report_id):
    """Your team has seen this report (results arriving later make it new again)."""
    session = db.session()
    actor = _actor()
    seen = services.mark_seen(session, actor, services.get_report(session, actor, report_id))
    session.commit()
    return seen
