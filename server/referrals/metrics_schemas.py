"""Shapes of the loop's metrics (GET /referrals/metrics) and of a case's trends (GET /referrals/{id}/trends)."""
import marshmallow as ma

from ..api import Schema
from .metrics import GROUPS
from .schemas import VisitLineSchema

V = ma.validate


class MetricsArgs(Schema):
    by = ma.fields.String(load_default="specialty", validate=V.OneOf(list(GROUPS)),
                          metadata={"description": "group by specialty (department), hospital, center or team"})
    date_from = ma.fields.Date(metadata={"description": "cases sent on or after (default: 90 days before date_to)"})
    date_to = ma.fields.Date(metadata={"description": "cases sent on or before (default: today)"})


class ShareSchema(Schema):
    n = ma.fields.Integer()
    of = ma.fields.Integer(metadata={"description": "the cases that can be judged (see the definitions)"})
    rate = ma.fields.Float(allow_none=True)


class MetricsTotalSchema(Schema):
    cases = ma.fields.Integer()
    open = ma.fields.Integer()
    overdue = ma.fields.Integer(metadata={"description": "waiting for a first response past response_due"})
    escalated = ma.fields.Integer()
    median_hours_to_first_response = ma.fields.Float(allow_none=True)
    answered_in_time = ma.fields.Nested(ShareSchema)
    settled_without_visit = ma.fields.Nested(ShareSchema, metadata={"description": "answered with advice only"})
    closed_loop = ma.fields.Nested(ShareSchema, metadata={
        "description": "answered cases the team followed up within 2 weeks"})
    down_referrals = ma.fields.Integer(metadata={"description": "cases sent back with a return form"})


class MetricsRowSchema(MetricsTotalSchema):
    name = ma.fields.String(metadata={"description": "the specialty (department), hospital, center or team"})


class MetricsSchema(Schema):
    by = ma.fields.String()
    date_from = ma.fields.Date()
    date_to = ma.fields.Date()
    today = ma.fields.Date()
    response_days = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(),
                                   metadata={"description": "working days to the first response, by urgency"})
    total = ma.fields.Nested(MetricsTotalSchema)
    rows = ma.fields.List(ma.fields.Nested(MetricsRowSchema))


class TrendsSchema(Schema):
    referral_id = ma.fields.String()
    since = ma.fields.Date()
    points = ma.fields.List(ma.fields.Nested(VisitLineSchema), metadata={"description": "oldest first"})
