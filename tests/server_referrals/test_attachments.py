"""Attachments of a case (issue 13 item 2): images checked by content and size, lab reports by reference."""
from __future__ import annotations

import datetime as dt
import io

import pytest
from PIL import Image
from sqlalchemy import select


def _image(fmt="PNG", size=(64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buf, format=fmt)
    return buf.getvalue()


def _upload(as_user, user, case_id, data, name="photo.png", caption="心电图", **headers):
    return as_user(user).post(f"/api/v1/referrals/{case_id}/attachments",
                              data={"file": (io.BytesIO(data), name), "caption": caption},
                              content_type="multipart/form-data", headers=headers)


def _error_shape(r):
    body = r.get_json()
    assert set(body) <= {"code", "status", "message", "errors"} and body["code"] == r.status_code, body
    return body


@pytest.mark.parametrize("fmt,ctype", [("PNG", "image/png"), ("JPEG", "image/jpeg")])
def test_an_image_is_stored_served_back_and_read_audited(fmt, ctype, ref, as_user, session):
    from server.audit.models import AuditEvent

    case, _ = ref.send()
    data = _image(fmt)
    r = _upload(as_user, "gp-a1", case["id"], data, name="scan.txt")  # the name does not decide
    body = ref.ok(r, 201)
    assert (body["content_type"], body["width"], body["height"], body["size_bytes"]) == (ctype, 64, 48, len(data))
    listing = ref.ok(as_user("spec").get(f"/api/v1/referrals/{case['id']}/attachments"))
    assert [i["id"] for i in listing["images"]] == [body["id"]] and listing["images"][0]["caption"] == "心电图"
    r = as_user("spec").get(f"/api/v1/referrals/{case['id']}/attachments/{body['id']}")
    assert r.status_code == 200 and r.data == data and r.headers["Content-Type"] == ctype
    assert r.headers["X-Content-Type-Options"] == "nosniff" and "no-store" in r.headers["Cache-Control"]
    reads = session.scalars(select(AuditEvent).where(AuditEvent.entity == "referral_attachment",
                                                     AuditEvent.action == "read")).all()
    assert [(e.username, e.entity_id, e.resident_id) for e in reads] == [("spec", body["id"], case["resident_id"])]
    thread = ref.ok(as_user("spec").get(f"/api/v1/referrals/{case['id']}"))["messages"]
    assert thread[-1]["kind"] == "attachment" and thread[-1]["text"] == "图片：心电图"
    inbox = ref.ok(as_user("spec").get("/api/v1/inbox"))["items"]
    assert inbox[0]["topic"] == "referral_attachment"


def test_who_may_attach_and_read(ref, as_user):
    case, _ = ref.send()
    image_id = ref.ok(_upload(as_user, "gp-a1", case["id"], _image()), 201)["id"]
    path = f"/api/v1/referrals/{case['id']}/attachments/{image_id}"
    for user, status in (("gp-a1", 200), ("nurse-a1", 200), ("staff-a", 200), ("admin", 200), ("spec", 200),
                         ("gp-a2", 404), ("staff-b", 404), ("spec-pool", 404), ("spec-endo", 404)):
        assert as_user(user).get(path).status_code == status, user
        assert as_user(user).get(f"/api/v1/referrals/{case['id']}/attachments").status_code == status, user
    assert ref.ok(_upload(as_user, "spec", case["id"], _image("JPEG")), 201)["content_type"] == "image/jpeg"
    assert _upload(as_user, "gp-a2", case["id"], _image()).status_code == 404
    assert _upload(as_user, "staff-a", case["id"], _image()).status_code == 403
    assert _upload(as_user, "spec-pool", case["id"], _image()).status_code == 404
    other, _ = ref.send(to="spec-endo")
    assert as_user("gp-a1").get(f"/api/v1/referrals/{other['id']}/attachments/{image_id}").status_code == 404
    ref.ok(ref.act("gp-a1", case["id"], "cancel"))
    r = _upload(as_user, "gp-a1", case["id"], _image())
    assert r.status_code == 409 and _error_shape(r)["errors"]["state"] == ["cancelled"]


@pytest.mark.parametrize("data,name", [
    (b"%PDF-1.4 not an image", "scan.png"),
    (b"GIF89a" + bytes(100), "a.png"),
    (None, "a.gif"),  # a real GIF
    (None, "truncated.png"),
    (b"", "empty.png"),
])
def test_what_is_not_a_jpeg_or_png_is_refused(data, name, ref, as_user, session):
    from server.referrals.models import ReferralAttachment

    if name == "a.gif":
        data = _image("GIF")
    elif name == "truncated.png":
        data = _image("PNG", (300, 300))[:-200]
    case, _ = ref.send()
    r = _upload(as_user, "gp-a1", case["id"], data, name=name, **{"Accept-Language": "zh"})
    assert r.status_code == 422, r.get_json()
    body = _error_shape(r)
    assert "file" in body["errors"] and "JPEG" in body["message"]
    assert session.scalars(select(ReferralAttachment)).all() == []


def test_an_oversized_image_is_413_and_a_pixel_bomb_422(ref, as_user, clean_app):
    case, _ = ref.send()
    clean_app.config["MAX_ATTACHMENT_BYTES"] = 2000
    big = _image("PNG", (200, 200)) + bytes(3000)  # a valid PNG with trailing bytes, over the limit
    r = _upload(as_user, "gp-a1", case["id"], big, **{"Accept-Language": "zh"})
    assert r.status_code == 413 and _error_shape(r)["errors"]["file"] and "MB" in r.get_json()["message"]
    # The whole body over its limit: refused on Content-Length, before anything is read.
    r = _upload(as_user, "gp-a1", case["id"], bytes(6 * 1024 * 1024))
    assert r.status_code == 413 and _error_shape(r)
    clean_app.config["MAX_ATTACHMENT_BYTES"] = 5 * 1024 * 1024
    buf = io.BytesIO()
    Image.new("1", (8000, 8000)).save(buf, format="PNG")  # 64 megapixels in a few kB
    r = _upload(as_user, "gp-a1", case["id"], buf.getvalue())
    assert r.status_code == 422 and "pixels" in _error_shape(r)["message"]
    r = as_user("gp-a1").post(f"/api/v1/referrals/{case['id']}/attachments", data={"caption": "x"},
                              content_type="multipart/form-data")
    assert r.status_code == 422 and "file" in _error_shape(r)["errors"]["files"]


def test_lab_reports_are_attached_by_reference_by_the_team_only(ref, as_user, session):
    from server.labs.models import LabReport

    mine = LabReport(hospital_id=ref.w.hospital_id, resident_id=ref.w.residents["A1-0-0"], panel_name="肾功能",
                     abnormal=False, reported_at=dt.datetime(2026, 6, 12, 9, tzinfo=dt.timezone.utc))
    theirs = LabReport(hospital_id=ref.w.hospital_id, resident_id=ref.w.residents["A1-0-1"], panel_name="血常规")
    session.add_all([mine, theirs])
    session.commit()
    case, _ = ref.send()
    path = f"/api/v1/referrals/{case['id']}/lab-reports"
    r = as_user("gp-a1").post(path, json={"lab_report_ids": [theirs.id]})
    assert r.status_code == 422 and theirs.id in _error_shape(r)["errors"]["lab_report_ids"][0]
    assert as_user("spec").post(path, json={"lab_report_ids": [mine.id]}).status_code == 403
    assert as_user("gp-a2").post(path, json={"lab_report_ids": [mine.id]}).status_code == 404
    body = ref.ok(as_user("gp-a1").post(path, json={"lab_report_ids": [mine.id]}))
    assert [r["panel_name"] for r in body["lab_reports"]] == ["肾功能"]
    assert as_user("gp-a1").post(path, json={"lab_report_ids": [mine.id]}).status_code == 422  # already there
    summary = ref.ok(as_user("spec").get(f"/api/v1/referrals/{case['id']}/resident-summary"))
    assert [r["panel_name"] for r in summary["lab_reports"]] == ["肾功能"]
    assert ref.ok(as_user("spec").get(f"/api/v1/referrals/{case['id']}/attachments"))["lab_reports"][0]["id"] == mine.id
