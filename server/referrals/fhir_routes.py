"""FHIR R4 for hospital systems: read ServiceRequest and Task, search and move Tasks (feed key, If-Match);
errors as OperationOutcome."""
import json

import marshmallow as ma
from flask import Response, request
from werkzeug.http import HTTP_STATUS_CODES
from marshmallow import validate as V

from .. import clock, db
from ..api import Blueprint, Schema
from ..errors import DomainError, Invalid
from ..labs import feeds
from ..labs.routes import calling_feed
from ..limits import BodyRefused, loads_strict
from . import fhir

blp = Blueprint("referral_fhir", __name__, url_prefix="/api/v1/fhir",
                description="Referrals as FHIR R4 ServiceRequest + Task, for hospital systems (X-Lab-Feed-Key)")
FHIR_JSON = "application/fhir+json"
KEY_DOC = {"parameters": [{"in": "header", "name": feeds.KEY_HEADER, "required": True, "schema": {"type": "string"},
                           "description": "the hospital feed's key"}]}
# Every error of these paths is an OperationOutcome (application/fhir+json), not the API's error shape.
OPERATION_OUTCOME = {
    "type": "object", "required": ["resourceType", "issue"], "description": "FHIR R4 OperationOutcome",
    "properties": {"resourceType": {"type": "string", "enum": ["OperationOutcome"]},
                   "issue": {"type": "array", "minItems": 1, "items": {
                       "type": "object", "required": ["severity", "code"], "properties": {
                           "severity": {"type": "string", "enum": ["fatal", "error", "warning", "information"]},
                           "code": {"type": "string"}, "diagnostics": {"type": "string"},
                           "details": {"type": "object"},
                           "expression": {"type": "array", "items": {"type": "string"}},
                           "location": {"type": "array", "items": {"type": "string"}}}}}}}


def document_errors(api) -> None:
    """Declare the OperationOutcome error response these paths refer to (create_app calls it)."""
    def add(spec):
        spec.components.schema("OperationOutcome", OPERATION_OUTCOME)
        spec.components.response("FHIR_ERROR", {
            "description": "An error, as a FHIR R4 OperationOutcome",
            "content": {FHIR_JSON: {"schema": {"$ref": "#/components/schemas/OperationOutcome"}}}})
    api.document(add)


def _doc(**errors: str) -> dict:
    """KEY_DOC with the error responses (status -> description) as OperationOutcomes."""
    outcome = {FHIR_JSON: {"schema": {"$ref": "#/components/schemas/OperationOutcome"}}}
    return {**KEY_DOC, "responses": {"default": "FHIR_ERROR",
                                     **{status: {"description": text, "content": outcome}
                                        for status, text in errors.items()}}}


@blp.after_app_request
def _errors_as_operation_outcome(response):
    """Every error answered under /api/v1/fhir (ours, the schema's 422, an unknown path's 404, a 405, a 500)
    as an OperationOutcome with the same status: one place, whatever raised it."""
    if response.status_code < 400 or not (request.path + "/").startswith(blp.url_prefix + "/"):
        return response
    body = response.get_json(silent=True)
    if not isinstance(body, dict) or "resourceType" in body:
        body = {"status": HTTP_STATUS_CODES.get(response.status_code, "Error")}
    outcome = fhir.operation_outcome(response.status_code, body)
    response.set_data(json.dumps(outcome, ensure_ascii=False))
    response.content_type = FHIR_JSON
    return response


class TaskSearchArgs(Schema):
    status = ma.fields.String(validate=V.OneOf(fhir.TASK_STATUSES))
    _count = ma.fields.Integer(data_key="_count", load_default=50, validate=V.Range(min=1, max=200))


def _feed():
    """The hospital's feed (the same check as lab intake's)."""
    return calling_feed("Hospital systems use their feed key (X-Lab-Feed-Key); people use /api/v1/referrals.",
                        "Send the hospital feed's key in X-Lab-Feed-Key.")


def _fhir(resource: dict, row=None, status: int = 200) -> Response:
    resp = Response(json.dumps(resource, ensure_ascii=False), status=status, content_type=FHIR_JSON)
    if row is not None:
        resp.headers["ETag"] = f'W/"{row.version}"'
    return resp


def _read(kind: str, referral_id: str):
    feed = _feed()
    session = db.session()
    row, resource = fhir.read(session, feed, referral_id, kind)
    session.commit()
    return _fhir(resource, row)


@blp.route("/ServiceRequest/<referral_id>")
@blp.doc(**_doc())
@blp.response(200, description="a FHIR R4 ServiceRequest", content_type=FHIR_JSON)
def read_service_request(referral_id):
    """A referral addressed to your hospital as a ServiceRequest (the upward form; the read is logged)."""
    return _read("ServiceRequest", referral_id)


@blp.route("/Task/<referral_id>")
@blp.doc(**_doc())
@blp.response(200, description="a FHIR R4 Task; ETag W/\"<version>\"", content_type=FHIR_JSON)
def read_task(referral_id):
    """A referral's Task: its status, owner, deadline and, once returned, the return form as output."""
    return _read("Task", referral_id)


@blp.route("/Task")
@blp.doc(**_doc(**{"422": "A search parameter is not acceptable (issue.location http.<parameter>)"}))
@blp.arguments(TaskSearchArgs, location="query")
@blp.response(200, description="a searchset Bundle of Tasks", content_type=FHIR_JSON)
def search_tasks(args):
    """Your hospital's Tasks, latest change first (status: e.g. requested for the new ones)."""
    feed = _feed()
    session = db.session()
    bundle = fhir.search_tasks(session, feed, args.get("status"), args["_count"], request.url_root + "api/v1/fhir/")
    session.commit()
    return _fhir(bundle)


@blp.route("/Task/<referral_id>", methods=["PUT"])
@blp.doc(**_doc(**{"400": "The body could not be parsed (not JSON, not UTF-8)",
                   "409": "The case's state does not allow it (the state in issue.details.coding)",
                   "412": "Stale If-Match (the current state in issue.details.coding)",
                   "422": "Not an acceptable Task; each issue.expression names the element",
                   "428": "If-Match missing (issue.location http.If-Match)"}),
         requestBody={"required": True, "content": {FHIR_JSON: {"schema": {"type": "object"}},
                                                    "application/json": {"schema": {"type": "object"}}}})
@blp.response(200, description="the Task after the change", content_type=FHIR_JSON)
def update_task(referral_id):
    """Move the Task: accepted, rejected (statusReason.text) or completed (the return form as output), acting
    for Task.owner (Practitioner/<id>, one of your specialists); send If-Match: W/"<version>"."""
    feed = _feed()
    try:
        body = loads_strict(request.get_data(cache=False) or b"null")
    except BodyRefused as err:  # JSON, but not JSON the API takes (too deep, a number too long, ...)
        raise Invalid("The body is not JSON the API takes.", {"body": [str(err)]},
                      zh="请求体不是本接口接受的 JSON。") from None
    except ValueError as err:
        # Not parsed at all (not JSON, not UTF-8): FHIR's 400, as the rest of the API answers it; 422 is
        # for a Task that was read and refused.
        zh = "请求体不是 UTF-8 文字。" if isinstance(err, UnicodeDecodeError) else "请求体不是有效的 JSON。"
        raise DomainError("The body is not JSON.", {"body": [str(err)]}, zh=zh) from None
    session = db.session()
    row, resource = fhir.update_task(session, feed, referral_id, body, request.headers.get("If-Match"),
                                     clock.today())
    session.commit()
    return _fhir(resource, row)
