"""Reused numbers: a content fingerprint for messages, a reuse counter for order numbers.

Revision ID: l003
Revises: l002
Create Date: 2026-11-29

Control ids: lab_messages was unique on (feed_id, sending_facility, control_id), so a message reusing a
control id (analysers may number every message 1) was taken for a repeat and its results were lost. Now
lab_messages.fingerprint holds server.labs.models.content_fingerprint(raw, format) (HL7: SHA-256 of the
bytes after MSH, line endings normalised; FHIR: "", Bundle.identifier alone) and the unique key is
(feed_id, sending_facility, control_id, fingerprint): a repeat is the same control id with the same content.
Existing rows are backfilled in Python, in batches, by a copy of that function as it was when this
migration was written (a migration must not change when the app's code does; tests/server_labs/
test_reused_numbers.py checks the two agree): a fingerprint that differed from the one intake computes
would store a resend of an old message again.

Order numbers: lab_reports was unique on (hospital_id, filler_no), so a number reused for another patient
had to join that patient's report. The constraint is not dropped but widened to (hospital_id, filler_no,
filler_reuse): 0 for the first report of a number, 1, 2, ... for other patients' orders reusing it. A
uniqueness kept this way still makes two connections filing one new order at once collide, so the second
adds to the first's report on its retry; and the printed filler number stays the hospital's, untouched
(a suffix on filler_no would put a number the hospital never issued on paper). Existing reports get 0.

Downgrade: rows the old keys cannot hold are made distinct rather than deleted: a reused order number
becomes "<number>~<filler_reuse>", a reused control id "<control id>~<n>" (n from 2, by arrival).
"""
import hashlib

from alembic import op
import sqlalchemy as sa

revision = 'l003'
down_revision = 'l002'
branch_labels = None
depends_on = None

BATCH = 500


def content_fingerprint(raw: bytes, fmt: str) -> str:
    """server.labs.models.content_fingerprint of 29 November 2026."""
    if fmt != "hl7v2":
        return ""
    _msh, _end, rest = raw.replace(b"\r\n", b"\r").replace(b"\n", b"\r").partition(b"\r")
    return hashlib.sha256(rest.strip(b"\r")).hexdigest()
messages = sa.table('lab_messages', sa.column('id', sa.String), sa.column('format', sa.String),
                    sa.column('raw', sa.LargeBinary), sa.column('fingerprint', sa.String),
                    sa.column('feed_id', sa.Integer), sa.column('sending_facility', sa.String),
                    sa.column('control_id', sa.String), sa.column('received_at', sa.DateTime))
reports = sa.table('lab_reports', sa.column('filler_no', sa.String), sa.column('filler_reuse', sa.Integer))


def upgrade() -> None:
    with op.batch_alter_table('lab_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fingerprint', sa.String(length=64), nullable=True))
    conn = op.get_bind()
    last = ''
    while True:  # by id, a batch at a time: raw may be megabytes a row
        rows = conn.execute(sa.select(messages.c.id, messages.c.format, messages.c.raw)
                            .where(messages.c.id > last).order_by(messages.c.id).limit(BATCH)).all()
        if not rows:
            break
        conn.execute(messages.update().where(messages.c.id == sa.bindparam('row_id'))
                     .values(fingerprint=sa.bindparam('value')),
                     [{'row_id': r.id, 'value': content_fingerprint(bytes(r.raw), r.format)} for r in rows])
        last = rows[-1].id
    with op.batch_alter_table('lab_messages', schema=None) as batch_op:
        batch_op.alter_column('fingerprint', existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_constraint('uq_lab_messages_feed_id_sending_facility_control_id', type_='unique')
        batch_op.create_unique_constraint(
            batch_op.f('uq_lab_messages_feed_id_sending_facility_control_id_fingerprint'),
            ['feed_id', 'sending_facility', 'control_id', 'fingerprint'])

    with op.batch_alter_table('lab_reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('filler_reuse', sa.Integer(), nullable=False, server_default=sa.text('0')))
        batch_op.drop_constraint('uq_lab_reports_hospital_id_filler_no', type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_lab_reports_hospital_id_filler_no_filler_reuse'),
                                          ['hospital_id', 'filler_no', 'filler_reuse'])


def downgrade() -> None:
    conn = op.get_bind()
    number = sa.func.substr(reports.c.filler_no, 1, 90, type_=sa.String)
    conn.execute(reports.update().where(reports.c.filler_reuse > 0).values(
        filler_no=number + '~' + sa.cast(reports.c.filler_reuse, sa.String)))
    key = (messages.c.feed_id, messages.c.sending_facility, messages.c.control_id)
    reused = conn.execute(sa.select(*key).group_by(*key).having(sa.func.count() > 1)).all()
    renames = []
    for feed_id, facility, control_id in reused:
        ids = conn.scalars(sa.select(messages.c.id).where(
            messages.c.feed_id == feed_id, messages.c.sending_facility == facility,
            messages.c.control_id == control_id).order_by(messages.c.received_at, messages.c.id)).all()
        renames += [{'row_id': i, 'value': f'{control_id[:190]}~{n}'} for n, i in enumerate(ids[1:], start=2)]
    if renames:
        conn.execute(messages.update().where(messages.c.id == sa.bindparam('row_id'))
                     .values(control_id=sa.bindparam('value')), renames)

    with op.batch_alter_table('lab_reports', schema=None) as batch_op:
        batch_op.drop_constraint('uq_lab_reports_hospital_id_filler_no_filler_reuse', type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_lab_reports_hospital_id_filler_no'),
                                          ['hospital_id', 'filler_no'])
        batch_op.drop_column('filler_reuse')
    with op.batch_alter_table('lab_messages', schema=None) as batch_op:
        batch_op.drop_constraint('uq_lab_messages_feed_id_sending_facility_control_id_fingerprint', type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_lab_messages_feed_id_sending_facility_control_id'),
                                          ['feed_id', 'sending_facility', 'control_id'])
        batch_op.drop_column('fingerprint')
