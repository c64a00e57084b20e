"""The tablet registry: enrolment on a member's online sign-in, the registry per team, center staff's
orders (retire, lost) and the tablet's confirmation that it wiped itself."""
from flask import current_app
from flask_jwt_extended import current_user

from .. import db
from ..api import Blueprint, page_schema, paginate
from ..audit import services as audit
from ..db import utcnow
from ..scope import Actor
from . import keys, services
from .schemas import DeviceListArgs, DeviceSchema, EnrolAnswerSchema, EnrolSchema, OrderSchema

blp = Blueprint("devices", __name__, url_prefix="/api/v1/devices", description="Tablet registry")
DevicePage = page_schema(DeviceSchema, "DevicePage")
READERS = ("gp", "center_staff", "admin")
MANAGERS = ("center_staff", "admin")


def _server_secret() -> str:
    return current_app.config.get("DEVICE_KEYS_SECRET") or current_app.config["SECRET_KEY"]


@blp.route("/enrol", methods=["POST"])
@blp.auth("gp")
@blp.arguments(EnrolSchema)
@blp.response(200, EnrolAnswerSchema)
@blp.alt_response(201, schema=EnrolAnswerSchema, description="First enrolment of this tablet")
def enrol(body):
    """Enrol this tablet for your team on an online sign-in; an active one gets its secret and escrow key."""
    session = db.session()
    report = services.Report(model=body["model"], app_version=body["app_version"],
                             store_version=body["store_version"])
    done = services.enrol(session, Actor.of(current_user), str(body["device_id"]), report, _server_secret(),
                          utcnow())
    session.commit()
    answer = {"device_id": done.device.id, "state": done.device.state, "team_id": done.device.team_id}
    if done.device_secret is not None:
        answer.update(device_secret=keys.wire(done.device_secret), escrow_key=keys.wire(done.escrow_key))
    return answer, 201 if done.created else 200


@blp.route("")
@blp.auth(*READERS)
@blp.arguments(DeviceListArgs, location="query")
@blp.response(200, DevicePage)
def list_devices(args):
    """The registry: a team its own tablets, center staff their center's, admin all."""
    session, actor = db.session(), Actor.of(current_user)
    page = paginate(session, services.list_devices(actor, args), args["page"], args["page_size"], rows=True)
    # Who carries which tablet, where, last seen when: logged with the tablets shown, as the other lists.
    audit.record(session, actor, "list", "device", None, detail={"shown": [d["id"] for d in page["items"]]})
    session.commit()
    return page


@blp.route("/<uuid_text:device_id>")
@blp.auth(*READERS)
@blp.response(200, DeviceSchema)
def get_device(device_id):
    """One tablet in the registry."""
    session, actor = db.session(), Actor.of(current_user)
    device = services.get_device(session, actor, device_id)
    audit.record(session, actor, "read", "device", device_id)
    session.commit()
    return device


def _order(device_id: str, order: str, body: dict):
    session = db.session()
    actor = Actor.of(current_user)
    services.give_order(session, actor, device_id, order, body.get("reason"), utcnow())
    session.commit()
    return services.get_device(session, actor, device_id)


@blp.route("/<uuid_text:device_id>/retire", methods=["POST"])
@blp.auth(*MANAGERS)
@blp.arguments(OrderSchema)
@blp.response(200, DeviceSchema)
def retire(body, device_id):
    """Retire a tablet: its waiting changes are taken at its next contact, then it wipes itself (logged)."""
    return _order(device_id, "retire", body)


@blp.route("/<uuid_text:device_id>/lost", methods=["POST"])
@blp.auth(*MANAGERS)
@blp.arguments(OrderSchema)
@blp.response(200, DeviceSchema)
def lost(body, device_id):
    """Report a tablet lost: it is refused from now on and wipes at its next contact unsent (logged)."""
    return _order(device_id, "lost", body)


@blp.route("/<uuid_text:device_id>/wiped", methods=["POST"])
@blp.auth("gp")
@blp.response(200, DeviceSchema)
def wiped(device_id):
    """The tablet confirms it wiped itself (after a retire or lost order)."""
    session = db.session()
    actor = Actor.of(current_user)
    services.confirm_wiped(session, actor, device_id, utcnow())
    session.commit()
    return services.get_device(session, actor, device_id)
