"""Shapes of the device registry: enrolment and its answer, a registry row, list filters, an order."""
import marshmallow as ma

from gpcore.devices import STATES

from ..api import PageArgs, Schema

V = ma.validate


class EnrolSchema(Schema):
    device_id = ma.fields.UUID(required=True, metadata={"description": "the UUID the tablet made for itself"})
    model = ma.fields.String(required=True, validate=V.Length(min=1, max=100))
    app_version = ma.fields.String(required=True, validate=V.Length(min=1, max=40))
    store_version = ma.fields.Integer(required=True, strict=True, validate=V.Range(min=0, max=1_000_000))


class EnrolAnswerSchema(Schema):
    device_id = ma.fields.String()
    state = ma.fields.String(metadata={"description": "active | retire (lost: 403 device_lost)"})
    team_id = ma.fields.Integer()
    device_secret = ma.fields.String(metadata={"description": "base64, 32 bytes; only for an active device"})
    escrow_key = ma.fields.String(metadata={"description": "base64 of 32 bytes; only for an active device"})


class DeviceSchema(Schema):
    id = ma.fields.String()
    team_id = ma.fields.Integer()
    team_name = ma.fields.String()
    center_id = ma.fields.Integer()
    state = ma.fields.String(metadata={"description": "active | retire | lost | wiped"})
    model = ma.fields.String()
    app_version = ma.fields.String()
    store_version = ma.fields.Integer()
    enrolled_at = ma.fields.AwareDateTime()
    enrolled_by = ma.fields.String(metadata={"description": "full name of the member who enrolled it"})
    last_user = ma.fields.String(allow_none=True)
    last_contact_at = ma.fields.AwareDateTime(allow_none=True)
    last_sync_at = ma.fields.AwareDateTime(allow_none=True)
    pending_changes = ma.fields.Integer(allow_none=True,
                                        metadata={"description": "waiting in its outbox, as last reported"})
    pending_reported_at = ma.fields.AwareDateTime(allow_none=True)
    state_changed_at = ma.fields.AwareDateTime(allow_none=True)
    state_changed_by = ma.fields.String(allow_none=True)
    pending_at_order = ma.fields.Integer(allow_none=True,
                                         metadata={"description": "waiting when retire/lost was ordered"})
    wiped_at = ma.fields.AwareDateTime(allow_none=True)


class DeviceListArgs(PageArgs):
    team_id = ma.fields.Integer(validate=V.Range(min=1, max=2**31 - 1))
    state = ma.fields.String(validate=V.OneOf(STATES))


class OrderSchema(Schema):
    reason = ma.fields.String(load_default=None, allow_none=True, validate=V.Length(max=200))
