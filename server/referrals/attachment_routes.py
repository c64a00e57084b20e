"""A case's attachments: images (JPEG/PNG, checked by content, size-limited) and the resident's lab reports."""
import marshmallow as ma
from flask import current_app, make_response
from flask_jwt_extended import current_user
from flask_smorest.fields import Upload
from marshmallow import validate as V

from .. import db
from ..api import Blueprint, Schema
from ..scope import Actor
from . import attachments
from .routes import ACTORS, READERS

blp = Blueprint("referral_attachments", __name__, url_prefix="/api/v1", description="Attachments of referrals")


class ImageUpload(Schema):
    file = Upload(required=True, metadata={"description": "a JPEG or PNG image (checked by its content)"})


class ImageForm(Schema):
    caption = ma.fields.String(validate=V.Length(max=200), metadata={"description": "what the image shows"})


class LabReportRefs(Schema):
    lab_report_ids = ma.fields.List(ma.fields.String(validate=V.Length(max=36)), required=True,
                                    validate=V.Length(min=1, max=20))


class ImageSchema(Schema):
    id = ma.fields.String()
    content_type = ma.fields.String()
    size_bytes = ma.fields.Integer()
    width = ma.fields.Integer()
    height = ma.fields.Integer()
    sha256 = ma.fields.String()
    caption = ma.fields.String(allow_none=True)
    uploaded_by = ma.fields.Integer()
    uploaded_at = ma.fields.DateTime()


class AttachedReportSchema(Schema):
    id = ma.fields.String()
    panel_name = ma.fields.String(allow_none=True)
    reported_at = ma.fields.DateTime(allow_none=True)
    abnormal = ma.fields.Boolean(allow_none=True)
    critical = ma.fields.Boolean(allow_none=True)


class AttachmentsSchema(Schema):
    referral_id = ma.fields.String()
    images = ma.fields.List(ma.fields.Nested(ImageSchema))
    lab_reports = ma.fields.List(ma.fields.Nested(AttachedReportSchema))


def _actor() -> Actor:
    return Actor.of(current_user)


@blp.route("/referrals/<referral_id>/attachments")
@blp.auth(*READERS)
@blp.response(200, AttachmentsSchema)
def list_attachments(referral_id):
    """The case's lab reports and images (the read is logged)."""
    session = db.session()
    result = attachments.listing(session, _actor(), referral_id)
    session.commit()
    return result


@blp.route("/referrals/<referral_id>/attachments", methods=["POST"])
@blp.auth(*ACTORS)
@blp.arguments(ImageForm, location="form")
@blp.arguments(ImageUpload, location="files")
@blp.response(201, ImageSchema)
@blp.alt_response(413, description="The image is larger than MAX_ATTACHMENT_BYTES (5 MB)")
@blp.alt_response(422, description="Not a JPEG or PNG image")
def upload_image(form, files, referral_id):
    """Attach a JPEG or PNG image (the team and the specialist, until the case ends; at most 5 MB)."""
    limit = current_app.config["MAX_ATTACHMENT_BYTES"]
    data = files["file"].read(limit + 1)
    session = db.session()
    item = attachments.add_image(session, _actor(), referral_id, data, form.get("caption"), limit)
    session.commit()
    return item


@blp.route("/referrals/<referral_id>/attachments/<attachment_id>")
@blp.auth(*READERS)
@blp.response(200, description="the image's bytes", content_type="image/*")
def get_image(referral_id, attachment_id):
    """One image of the case, as uploaded (the read is logged)."""
    session = db.session()
    item = attachments.image(session, _actor(), referral_id, attachment_id)
    session.commit()
    resp = make_response(item.data)
    resp.headers["Content-Type"] = item.content_type
    resp.headers["Content-Disposition"] = f'inline; filename="{item.id}.{item.content_type.split("/")[1]}"'
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


@blp.route("/referrals/<referral_id>/lab-reports", methods=["POST"])
@blp.auth("gp")
@blp.arguments(LabReportRefs)
@blp.response(200, AttachmentsSchema)
def add_lab_reports(data, referral_id):
    """Attach more of the resident's lab reports to the case (the resident's team; the reports must be theirs)."""
    session = db.session()
    result = attachments.add_lab_reports(session, _actor(), referral_id, data["lab_report_ids"])
    session.commit()
    return result
