"""GET /referrals/{id}/slip: the upward slip with its stub and the return form, from a real case, as ESC/POS
bytes or a PNG preview, scoped and read-audited like the case."""
from __future__ import annotations

import pytest

from printing import PaperWidth, preview


def _text(data: bytes, width: PaperWidth) -> str:
    return "\n".join(preview(data, width).lines)


@pytest.mark.parametrize("width", (58, 80))
def test_referral_slip_and_return_form_from_a_real_case(ref, as_user, session, width):
    from sqlalchemy import select
    from server.audit.models import AuditEvent

    case, _ = ref.send(to="spec")
    url = f"/api/v1/referrals/{case['id']}/slip"
    r = as_user("gp-a1").get(f"{url}?width={width}")
    assert r.status_code == 200 and r.mimetype == "application/octet-stream"
    text = _text(r.data, PaperWidth.from_mm(width))
    for expected in ("存", "沿此线撕开", "双向转诊单", "（转出）", "张三", "市一医院", "心内科", "高血压控制不满意",
                     "连续两次随访血压>160/95"):
        assert expected in text, expected
    number = f"ZZ-{ref.today.year}-{case['id'].replace('-', '')[:8].upper()}"
    assert text.count(number) == 2  # on the stub and on the form
    # No return form yet: 409 naming the state, in the one error shape.
    r = as_user("gp-a1").get(f"{url}?part=return&width={width}")
    assert r.status_code == 409 and r.get_json()["errors"]["state"] == ["requested"]
    assert set(r.get_json()) <= {"code", "status", "message", "errors"}
    for action in ("accept", "answer", "return_case"):
        ref.ok(ref.act("spec", case["id"], action))
    r = as_user("spec").get(f"{url}?part=return&width={width}&mode=raster")
    assert r.status_code == 200 and len(r.data) > 1000
    r = as_user("gp-a1").get(f"{url}?part=return&width={width}")
    text = _text(r.data, PaperWidth.from_mm(width))
    for expected in ("（回转）", "原发性高血压3级", "心超正常", "缬沙坦80mg", "心内科医生", "021-1234", number):
        assert expected in text, expected
    png = as_user("gp-a1").get(f"{url}?part=return&width={width}&format=png")
    assert png.status_code == 200 and png.mimetype == "image/png" and png.data[:4] == b"\x89PNG"
    events = session.execute(select(AuditEvent.username, AuditEvent.action, AuditEvent.entity)
                             .where(AuditEvent.entity_id == case["id"])).all()
    assert events.count(("gp-a1", "read", "referral")) >= 3


def test_slip_bad_inputs_and_scope(ref, as_user):
    case, _ = ref.send(to="spec")
    url = f"/api/v1/referrals/{case['id']}/slip"
    for query, field in (("width=57", "width"), ("part=stub", "part"), ("format=pdf", "format"),
                         ("mode=x", "mode")):
        r = as_user("gp-a1").get(f"{url}?{query}")
        assert r.status_code == 422 and field in r.get_json()["errors"]["query"], (query, r.get_json())
    assert as_user("gp-b1").get(url).status_code == 404  # another team's case
    assert as_user("spec-endo").get(url).status_code == 404  # a specialist it is not addressed to
    assert as_user("spec").get(url).status_code == 200
    assert as_user("gp-a1").get("/api/v1/referrals/no-such-case/slip").status_code == 404
