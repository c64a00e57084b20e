"""Attachments of a case: the resident's lab reports by reference, and images (JPEG or PNG).

An image is checked by what it is, not by its name or the Content-Type the client claims: Pillow must
recognise it as JPEG or PNG and verify it, and its pixels are bounded (a small file can decode to gigabytes).
Each attachment is announced in the thread (kind "attachment"), so the other side is notified like for a
message. Reading an image is audited like the case itself. Storage: ReferralAttachment's docstring says why
the database.
"""
from __future__ import annotations

import hashlib
import io
import warnings

from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from gpcore import referral as rules
from gpcore.referral.machine import TEAM

from ..audit import services as audit
from ..errors import DomainError, Forbidden, NotFound, field_error
from ..labs.models import LabReport
from ..scope import Actor
from . import services
from .models import ReferralAttachment

MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a 40-megapixel photo decodes to 120 MB; more is no clinical photo
FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png"}


class TooLarge(DomainError):
    status = 413


def too_large(limit: int) -> TooLarge:
    mb = limit / (1024 * 1024)
    return TooLarge(f"file: larger than {mb:g} MB", {"file": [f"larger than {limit} bytes"]},
                    zh=f"图片超过 {mb:g} MB，请压缩后再上传。", zh_errors={"file": [f"图片超过 {mb:g} MB"]})


def check_image(data: bytes, limit: int = MAX_ATTACHMENT_BYTES) -> tuple[str, int, int]:
    """(content type, width, height) of a JPEG or PNG image; 413 beyond the limit, 422 for anything else."""
    if len(data) > limit:
        raise too_large(limit)
    not_image = field_error("file", "not a JPEG or PNG image", "只能上传 JPEG 或 PNG 图片。")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                kind, (width, height) = img.format, img.size
                if kind not in FORMATS:
                    raise not_image
                if width * height > MAX_PIXELS:
                    raise field_error("file", f"more than {MAX_PIXELS} pixels", "图片像素过多，请缩小后再上传。")
                img.verify()  # reads the whole file: a truncated or corrupt image fails here
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise field_error("file", f"more than {MAX_PIXELS} pixels", "图片像素过多，请缩小后再上传。") from None
    except (OSError, ValueError, SyntaxError):  # Pillow's ways of saying "not an image I can read"
        raise not_image from None
    return FORMATS[kind], width, height


def add_image(session: Session, actor: Actor, referral_id: str, data: bytes, caption: str | None,
              limit: int = MAX_ATTACHMENT_BYTES) -> ReferralAttachment:
    """Attach an image to a case (anyone with a part in it, until it ends), announced in the thread."""
    row = services.require_writer(session, actor, referral_id)
    content_type, width, height = check_image(data, limit)
    caption = " ".join((caption or "").split())[:200] or None
    item = ReferralAttachment(referral_id=row.id, content_type=content_type, size_bytes=len(data), width=width,
                              height=height, sha256=hashlib.sha256(data).hexdigest(), caption=caption,
                              uploaded_by=actor.user_id, data=data)
    session.add(item)
    session.flush()
    services.post(session, actor, row, "attachment", f"图片：{caption}" if caption else "图片")
    audit.record(session, actor, "create", "referral_attachment", item.id, row.resident_id,
                 detail={"referral_id": row.id, "bytes": len(data), "type": content_type})
    return item


def add_lab_reports(session: Session, actor: Actor, referral_id: str, report_ids: list[str]) -> dict:
    """Attach more of the resident's lab reports (the team only: a specialist sees no other reports)."""
    row = services.require_writer(session, actor, referral_id)
    if TEAM not in rules.relations(services.case_of(row), services.party(actor)):
        raise Forbidden("Only the resident's team attaches lab reports.", {"authorization": "referral"},
                        zh="只有居民的签约团队可以附加化验报告。")
    wanted = services.residents_reports(session, row.resident_id, report_ids)
    new = [i for i in wanted if i not in (row.lab_report_ids or [])]
    if not new:
        raise field_error("lab_report_ids", "already attached", "这些化验报告已附在转诊中。")
    row.lab_report_ids = [*(row.lab_report_ids or []), *new]
    names = session.scalars(select(LabReport.panel_name).where(LabReport.id.in_(new))).all()
    services.post(session, actor, row, "attachment", "化验报告：" + "、".join(n or "化验" for n in names))
    audit.record(session, actor, "update", "referral", row.id, row.resident_id, detail={"lab_reports_added": new})
    return listing(session, actor, row.id)


def listing(session: Session, actor: Actor, referral_id: str) -> dict:
    """A case's attachments: its lab reports (by reference) and its images (without their bytes)."""
    row = services.get(session, actor, referral_id, log_read=False)
    images = session.scalars(select(ReferralAttachment).where(ReferralAttachment.referral_id == row.id)
                             .order_by(ReferralAttachment.uploaded_at, ReferralAttachment.id)).all()
    reports = {r.id: r for r in session.scalars(select(LabReport).where(LabReport.id.in_(row.lab_report_ids or [])))}
    audit.record(session, actor, "read", "referral_attachments", row.id, row.resident_id,
                 detail={"lab_reports": list(reports)})
    return {"referral_id": row.id, "images": images,
            "lab_reports": [{"id": i, "panel_name": reports[i].panel_name, "reported_at": reports[i].reported_at,
                             "abnormal": reports[i].abnormal, "critical": reports[i].critical}
                            for i in (row.lab_report_ids or []) if i in reports]}


def image(session: Session, actor: Actor, referral_id: str, attachment_id: str) -> ReferralAttachment:
    """One image of a case the actor may see, with its bytes (the read is logged)."""
    row = services.get(session, actor, referral_id, log_read=False)
    item = session.get(ReferralAttachment, attachment_id)
    if item is None or item.referral_id != row.id:
        raise NotFound("No such attachment.", zh="没有这个附件。")
    audit.record(session, actor, "read", "referral_attachment", item.id, row.resident_id,
                 detail={"referral_id": row.id})
    return item
