"""GET /followups/{id}/slip: the visit slip printed from a signed record (issue 14, print from records)."""
import io

import pytest
from sqlalchemy import select

import printing


def _text(data: bytes, width=printing.PaperWidth.MM58) -> str:
    return printing.preview(data, width).text.replace(" ", "").replace("\n", "")  # wrapping aside


def test_slip_carries_values_classification_next_date_and_advice_to_the_patient(fu, as_user):
    fu.register("A1-0-1", "t2dm")  # 李四, born 1950
    form = fu.dm_form("2026-06-01", sbp=146, dbp=92, fpg_mmol=8.4, classification=2, cigarettes_per_day=10,
                      cigarettes_per_day_target=0, salt_intake=3)
    rec = fu.ok(fu.visit("A1-0-1", form, condition="t2dm"))
    assert rec["next_visit_date"] == "2026-06-15"  # uncontrolled: 2 weeks, a Monday
    from prometheus_client import REGISTRY
    printed = REGISTRY.get_sample_value("gpo_print_jobs_total", {"document": "follow_up_slip", "format": "escpos"}) or 0
    r = as_user("gp-a1").get(f"/api/v1/followups/{rec['id']}/slip")
    assert r.status_code == 200 and r.mimetype == "application/octet-stream"
    assert REGISTRY.get_sample_value("gpo_print_jobs_total",
                                     {"document": "follow_up_slip", "format": "escpos"}) == printed + 1  # /metrics
    text = _text(r.data)
    for expected in ["随访/预约单", "2型糖尿病患者健康管理", "姓名：李四", "血压：146/92mmHg", "空腹血糖：8.4mmol/L",
                     "本次评价：控制不满意", "2026年6月15日星期一", "请戒烟。", "请清淡饮食，少吃盐。",
                     "本次血糖控制不满意"]:
        assert expected in text, expected
    assert "劝其" not in text and "建议限酒" not in text  # written to the patient, not to the doctor
    png = as_user("gp-a1").get(f"/api/v1/followups/{rec['id']}/slip?format=png&width=80&mode=raster")
    assert png.status_code == 200 and png.mimetype == "image/png"
    from PIL import Image
    assert Image.open(io.BytesIO(png.data)).width == printing.PaperWidth.MM80.dots


def test_phone_visit_slip_says_nothing_was_measured(fu, as_user):
    fu.register("A1-0-1")
    form = fu.htn_form("2026-06-01", visit_mode=3, sbp=None, dbp=None, weight_kg=None, height_cm=None,
                       heart_rate=None, classification=None)
    rec = fu.ok(fu.visit("A1-0-1", form))
    text = _text(as_user("gp-a1").get(f"/api/v1/followups/{rec['id']}/slip").data)
    assert "血压：" not in text and "本次评价：本次未测量，未评价" in text and "请尽快到社区卫生服务中心测量" in text
    assert "团队电话：" not in text  # the test world's teams have no phone: no empty label

def test_slip_is_scoped_and_logged_like_reading_the_record(fu, as_user, session):
    from server.audit.models import AuditEvent

    fu.register("A1-0-1")
    rec = fu.ok(fu.visit("A1-0-1"))
    expected = {"admin": 200, "staff-a": 200, "gp-a1": 200, "nurse-a1": 200,
                "staff-b": 404, "gp-a2": 404, "gp-b1": 404, "spec": 403}
    for user, status in expected.items():
        assert as_user(user).get(f"/api/v1/followups/{rec['id']}/slip").status_code == status, user
    readers = session.scalars(select(AuditEvent.username).where(
        AuditEvent.entity == "followup", AuditEvent.action == "read", AuditEvent.entity_id == rec["id"])).all()
    assert sorted(readers) == sorted(u for u, s in expected.items() if s == 200)


def test_a_lost_entry_has_no_slip(fu, as_user):
    fu.register("A1-0-1")
    r = as_user("gp-a1").post("/api/v1/followups/lost", json={
        "id": fu.new_id(), "resident_id": fu.w.residents["A1-0-1"], "condition": "hypertension",
        "date": "2026-06-01", "reason": "外出务工"})
    assert r.status_code == 201, r.get_json()
    slip = as_user("gp-a1").get(f"/api/v1/followups/{r.get_json()['id']}/slip")
    assert slip.status_code == 409 and set(slip.get_json()) == {"code", "status", "message", "errors"}


@pytest.mark.parametrize("query", ["width=100", "mode=x", "format=jpeg"])
def test_slip_query_errors_name_the_argument(fu, as_user, query):
    fu.register("A1-0-1")
    rec = fu.ok(fu.visit("A1-0-1"))
    r = as_user("gp-a1").get(f"/api/v1/followups/{rec['id']}/slip?{query}")
    assert r.status_code == 422 and query.split("=")[0] in r.get_json()["errors"]["query"]
