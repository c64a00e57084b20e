"""Shapes of the sync endpoints on the wire."""
import marshmallow as ma

from ..api import Schema

V = ma.validate
UUID_RE = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


def _uuid(**kw):
    return ma.fields.String(validate=V.Regexp(UUID_RE, error="not a UUID"), **kw)


class PullArgs(Schema):
    cursor = ma.fields.String(load_default=None, validate=V.Length(max=200), metadata={
        "description": "the cursor of the last page applied; empty for a first (snapshot) sync"})
    limit = ma.fields.Integer(load_default=5000, validate=V.Range(min=1, max=20000),
                              metadata={"description": "rows per page"})
    ref = ma.fields.String(load_default=None, validate=V.Length(max=64), metadata={
        "description": "version of the reference lists the tablet holds; the last page sends them if changed"})
    forms = ma.fields.String(load_default="whole", validate=V.OneOf(["whole", "compact"]), metadata={
        "description": "compact: follow-up forms without their empty boxes (an app from upgrade 8 on asks; the "
                       "entity's `compact` lists the columns sent so); whole: every box, as before"})


class EntityPageSchema(Schema):
    columns = ma.fields.List(ma.fields.String())
    rows = ma.fields.List(ma.fields.List(ma.fields.Raw()), metadata={"description": "one array per record"})
    removed = ma.fields.List(ma.fields.String(), metadata={"description": "ids that left the team's scope"})
    json = ma.fields.List(ma.fields.String(), metadata={
        "description": "columns whose values are JSON text (store as is, decode to read)"})
    compact = ma.fields.List(ma.fields.String(), metadata={
        "description": "form columns sent without their empty boxes (forms=compact; gpcore.followup.compact)"})


class PullPageSchema(Schema):
    epoch = ma.fields.String(metadata={"description": "changes after a server restore"})
    cursor = ma.fields.String(allow_none=True, metadata={"description": "store it with the page, send it next"})
    more = ma.fields.Boolean()
    mode = ma.fields.String(metadata={"description": "snapshot | changes | reset"})
    snapshot_complete = ma.fields.Boolean(metadata={"description": "last snapshot page: drop what it did not send"})
    reset = ma.fields.Boolean(metadata={"description": "the server has less than this tablet saw: start over"})
    resync = ma.fields.Boolean(metadata={"description": "changes after the cursor were pruned: download afresh"})
    reference = ma.fields.Dict(metadata={"description": "on the last page when the tablet's `ref` is not "
                                                       "current: {version, hospitals: [[id, code, name]]}"})
    remaining = ma.fields.Integer(metadata={"description": "about how many rows are still to come"})
    entities = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Nested(EntityPageSchema))


class PushRecordSchema(Schema):
    change_id = _uuid(required=True)
    entity = ma.fields.String(required=True, validate=V.Length(max=40))
    entity_id = _uuid(required=True, metadata={"description": "client-generated for new records"})
    op = ma.fields.String(required=True, validate=V.Length(max=10), metadata={"description": "create | update"})
    base = ma.fields.Dict(load_default=dict, metadata={"description": "field -> value the tablet started from"})
    fields = ma.fields.Dict(required=True, metadata={"description": "field -> new value"})
    device_time = ma.fields.String(allow_none=True, validate=V.Length(max=40),
                                   metadata={"description": "ISO time on the tablet's clock (kept, not trusted)"})


class PushSchema(Schema):
    batch_id = _uuid(required=True)
    device_id = ma.fields.String(required=True, validate=V.Length(min=1, max=64))
    records = ma.fields.List(ma.fields.Nested(PushRecordSchema), required=True, validate=V.Length(max=2000))


class PushResultSchema(Schema):
    change_id = ma.fields.String()
    status = ma.fields.String(metadata={"description": "applied | duplicate | conflict | rejected"})
    applied = ma.fields.List(ma.fields.String())
    conflicts = ma.fields.Dict(metadata={"description": "field -> {current, yours, base}"})
    reason = ma.fields.Dict(metadata={"description": "the error body the REST API would give"})
    original = ma.fields.Dict(metadata={"description": "for a duplicate: the first answer"})
    current = ma.fields.Dict(allow_none=True, metadata={"description": "the record now; null if out of scope"})


class PushAnswerSchema(Schema):
    batch_id = ma.fields.String()
    epoch = ma.fields.String()
    results = ma.fields.List(ma.fields.Nested(PushResultSchema))


class ConflictSchema(Schema):
    id = ma.fields.Integer()
    entity = ma.fields.String()
    entity_id = ma.fields.String()
    field = ma.fields.String()
    kept_value = ma.fields.Raw()
    losing_value = ma.fields.Raw()
    base_value = ma.fields.Raw()
    change_id = ma.fields.String()
    device_id = ma.fields.String()
    user_id = ma.fields.Integer()
    team_id = ma.fields.Integer(allow_none=True)
    device_time = ma.fields.DateTime(allow_none=True)
    received_at = ma.fields.DateTime()


class ConflictArgs(Schema):
    entity_id = ma.fields.String(validate=V.Length(max=36))
    page = ma.fields.Integer(load_default=1, validate=V.Range(min=1))
    page_size = ma.fields.Integer(load_default=50, validate=V.Range(min=1, max=500))
