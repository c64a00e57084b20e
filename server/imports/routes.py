"""Upload a resident list from the old system: dry run first, then the real, all-or-nothing run."""
import marshmallow as ma
from flask_jwt_extended import current_user
from flask_smorest.fields import Upload

from .. import db, messages_zh
from ..api import Blueprint, Schema, prefers_chinese
from ..errors import Invalid, field_error
from ..limits import body_too_large
from ..scope import Actor
from . import services

blp = Blueprint("imports", __name__, url_prefix="/api/v1/imports", description="Import from the old system")
MAX_BYTES = 50 * 1024 * 1024


class ImportArgs(Schema):
    center_id = ma.fields.Integer(metadata={"description": "defaults to your own center"})
    dry_run = ma.fields.Boolean(load_default=True, metadata={"description": "check only, write nothing"})


class ImportFile(Schema):
    file = Upload(required=True, metadata={"description": "CSV (UTF-8 or GBK) or XLSX"})


class ProblemSchema(Schema):
    row = ma.fields.Integer()
    field = ma.fields.String()
    message = ma.fields.String()
    value = ma.fields.String()


class ReportSchema(Schema):
    rows = ma.fields.Integer()
    households = ma.fields.Integer()
    residents = ma.fields.Integer()
    conditions = ma.fields.Integer()
    dry_run = ma.fields.Boolean()
    encoding = ma.fields.String()
    problems = ma.fields.List(ma.fields.Nested(ProblemSchema))


@blp.route("/residents", methods=["POST"])
@blp.auth("center_staff", "admin")
@blp.arguments(ImportArgs, location="query")
@blp.arguments(ImportFile, location="files")
@blp.response(200, ReportSchema)
@blp.alt_response(422, description="The real run found problems; nothing was written")
@blp.alt_response(413, description="The file is larger than 50 MB (MAX_IMPORT_BYTES for the whole body)")
def import_residents(args, files):
    """Import residents and households; `dry_run=true` (the default) reports every problem, writes nothing."""
    upload = files["file"]
    data = upload.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise body_too_large(MAX_BYTES, "file")
    center_id = args.get("center_id") or current_user.center_id
    if center_id is None:
        raise field_error("center_id", "name the center", "请指定中心")
    session = db.session()
    report = services.run(session, Actor.of(current_user), center_id, data, upload.filename or "upload.csv",
                          dry_run=args["dry_run"])
    if prefers_chinese():
        for p in report.problems:
            p.message = messages_zh.import_problem(p.message)
    if report.problems and not args["dry_run"]:
        raise Invalid(f"{len(report.problems)} problem(s) found; nothing was imported.",
                      {"rows": [f"row {p.row}: {p.field}: {p.message}" for p in report.problems[:500]]},
                      zh=f"发现 {len(report.problems)} 个问题，未导入任何数据。",
                      zh_errors={"rows": [f"第 {p.row} 行 {p.field}：{p.message}" for p in report.problems[:500]]})
    session.commit()
    return report
