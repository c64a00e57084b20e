"""lab_results.range_text kept whole (Text); FHIR messages get a content fingerprint

Revision ID: l007
Revises: l006
Create Date: 2026-12-06

Issue 17. Reference ranges: range_text was String(200) and intake cut the text to fit, so a range with bands
by age and sex (300 characters and more) lost its adult bands without a word. It is now Text (unbounded on
both databases); existing rows keep their (possibly already cut) text: the whole text is still in the raw
message of lab_messages if ever wanted.

FHIR versions: lab_messages.fingerprint was "" for FHIR (Bundle.identifier alone identified a bundle), so an
amended bundle under the same identifier was taken for a repeat and the correction lost. Intake now writes
server.labs.models.content_fingerprint (FHIR: SHA-256 of the resources in canonical JSON). Existing FHIR rows
are backfilled in Python, in batches, by a copy of that function as it was when this migration was written
(tests/server_labs/test_fhir_versions.py checks the two agree): a row left at "" would take a resend of its
bundle for new content and store its results a second time. The unique key is unchanged.

Downgrade: range texts longer than 200 characters are cut to 200 (the old column cannot hold them; every
row is kept); the first FHIR message of each bundle identifier gets "" back, as the old code computes it,
later versions keep their fingerprint (so the old unique key still holds them apart).
"""
import hashlib
import json
from decimal import Decimal

from alembic import op
import sqlalchemy as sa

revision = 'l007'
down_revision = 'l006'
branch_labels = None
depends_on = None

BATCH = 500


def fhir_fingerprint(raw: bytes) -> str:
    """server.labs.models.fhir_fingerprint of 6 December 2026."""
    try:
        bundle = json.loads(raw.decode("utf-8-sig"), parse_float=Decimal, parse_int=Decimal)
    except ValueError:
        return hashlib.sha256(raw).hexdigest()
    entries = bundle.get("entry") if isinstance(bundle, dict) else None
    resources = sorted(_canonical_json(e.get("resource")) for e in entries or [] if isinstance(e, dict))
    return hashlib.sha256("\n".join(resources).encode()).hexdigest()


def _canonical_json(value) -> str:
    if isinstance(value, dict):
        resource = "resourceType" in value
        return "{" + ",".join(f"{json.dumps(key, ensure_ascii=False)}:{_canonical_json(value[key])}"
                              for key in sorted(value) if not (resource and key == "meta")) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_canonical_json(v) for v in value) + "]"
    if isinstance(value, Decimal):
        return "0" if value.is_zero() else format(value.normalize(), "f")
    return json.dumps(value, ensure_ascii=False)


messages = sa.table('lab_messages', sa.column('id', sa.String), sa.column('format', sa.String),
                    sa.column('raw', sa.LargeBinary), sa.column('fingerprint', sa.String),
                    sa.column('feed_id', sa.Integer), sa.column('sending_facility', sa.String),
                    sa.column('control_id', sa.String), sa.column('received_at', sa.DateTime))
results = sa.table('lab_results', sa.column('range_text', sa.Text))


def upgrade() -> None:
    with op.batch_alter_table('lab_results', schema=None) as batch_op:
        batch_op.alter_column('range_text', existing_type=sa.String(length=200), type_=sa.Text(),
                              existing_nullable=False)
    conn = op.get_bind()
    last = ''
    while True:  # by id, a batch at a time: raw may be megabytes a row
        rows = conn.execute(sa.select(messages.c.id, messages.c.raw)
                            .where(messages.c.format == 'fhir', messages.c.id > last)
                            .order_by(messages.c.id).limit(BATCH)).all()
        if not rows:
            break
        conn.execute(messages.update().where(messages.c.id == sa.bindparam('row_id'))
                     .values(fingerprint=sa.bindparam('value')),
                     [{'row_id': r.id, 'value': fhir_fingerprint(bytes(r.raw))} for r in rows])
        last = rows[-1].id


def downgrade() -> None:
    conn = op.get_bind()
    conn.execute(results.update().where(sa.func.length(results.c.range_text) > 200)
                 .values(range_text=sa.func.substr(results.c.range_text, 1, 200)))
    firsts, seen = [], set()
    for row in conn.execute(sa.select(messages.c.id, messages.c.feed_id, messages.c.sending_facility,
                                      messages.c.control_id).where(messages.c.format == 'fhir')
                            .order_by(messages.c.received_at, messages.c.id)):
        key = (row.feed_id, row.sending_facility, row.control_id)
        if key not in seen:
            seen.add(key)
            firsts.append({'row_id': row.id})
    if firsts:
        conn.execute(messages.update().where(messages.c.id == sa.bindparam('row_id')).values(fingerprint=''),
                     firsts)
    with op.batch_alter_table('lab_results', schema=None) as batch_op:
        batch_op.alter_column('range_text', existing_type=sa.Text(), type_=sa.String(length=200),
                              existing_nullable=False)
