"""Schemas of the inbox and the SMS delivery status."""
import marshmallow as ma
from marshmallow import validate as V

from ..api import PageArgs, Schema
from .models import DELIVERY_STATES
from .services import masked


class InboxArgs(PageArgs):
    unread = ma.fields.Boolean(load_default=False, metadata={"description": "only notices not yet read"})


class InboxItemSchema(Schema):
    id = ma.fields.Integer()
    created_at = ma.fields.DateTime()
    topic = ma.fields.String()
    text = ma.fields.String()
    referral_id = ma.fields.String(allow_none=True)
    read_at = ma.fields.DateTime(allow_none=True)


class InboxPageSchema(Schema):
    items = ma.fields.List(ma.fields.Nested(InboxItemSchema))
    page = ma.fields.Integer()
    page_size = ma.fields.Integer()
    total = ma.fields.Integer()
    unread = ma.fields.Integer()


class UnreadSchema(Schema):
    unread = ma.fields.Integer()
    marked = ma.fields.Integer()


class SmsArgs(PageArgs):
    status = ma.fields.String(validate=V.OneOf(DELIVERY_STATES))
    referral_id = ma.fields.String(validate=V.Length(max=36))
    resident_id = ma.fields.String(validate=V.Length(max=36))
    topic = ma.fields.String(validate=V.Length(max=30))


class SmsStatusSchema(Schema):
    id = ma.fields.Integer()
    created_at = ma.fields.DateTime()
    topic = ma.fields.String()
    phone = ma.fields.Function(lambda m: masked(m.phone), metadata={"description": "last four digits"})
    text = ma.fields.String()
    referral_id = ma.fields.String(allow_none=True)
    resident_id = ma.fields.String(allow_none=True)
    status = ma.fields.String(metadata={"description": "pending, sent or failed"})
    attempts = ma.fields.Integer()
    next_attempt_at = ma.fields.DateTime(metadata={
        "description": "when a pending message is tried next (while a worker is sending it: when it is tried "
                       "again if that worker stops first)"})
    last_error = ma.fields.String(allow_none=True)
    sent_at = ma.fields.DateTime(allow_none=True)
