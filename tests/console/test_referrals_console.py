"""The referral pages in Chromium: a specialist answers an urgent referral and writes the return form (a
409 on the way shown in Chinese), and center staff see the metrics, the overdue and escalated cases move."""
import datetime as dt
import io
import uuid
from pathlib import Path

import pytest

from gpcore.clock import china_today

pytestmark = pytest.mark.browser
FORM = {"visit_mode": 1, "symptoms": [1], "medication_adherence": 1, "adverse_reaction": 1, "doctor": "李医生"}


def _form(today):
    return {"referral_date": today.isoformat(), "initial_impression": "高血压3级，控制不满意",
            "present_illness": "连续两次随访血压>170/100", "past_history": "高血压10年",
            "referring_doctor": "李医生", "doctor_phone": "021-5555", "institution": "甲中心"}


@pytest.fixture
def cases(world, as_user, session):
    """A1-0-0 with four hypertension visits over the last months and an urgent case sent to `spec` by name
    today; A1-0-1 with a routine case sent 10 days ago to the same specialist, overdue and escalated."""
    from server.referrals.escalation import escalate_overdue
    from server.referrals.models import Referral

    today = china_today()
    rid = world.residents["A1-0-0"]
    admin = as_user("admin")
    assert admin.post(f"/api/v1/residents/{rid}/conditions", json={"condition": "hypertension"}).status_code == 201
    for days, sbp, dbp in ((120, 150, 95), (90, 162, 98), (60, 171, 104), (30, 176, 106)):
        day = (today - dt.timedelta(days=days)).isoformat()
        r = as_user("gp-a1").post("/api/v1/followups", json={
            "id": str(uuid.uuid4()), "resident_id": rid, "condition": "hypertension",
            "form": {**FORM, "visit_date": day, "sbp": sbp, "dbp": dbp}})
        assert r.status_code == 201, r.get_json()
    sent = {}
    for key, urgency in (("A1-0-0", "urgent"), ("A1-0-1", "routine")):
        r = as_user("gp-a1").post("/api/v1/referrals", json={
            "resident_id": world.residents[key], "urgency": urgency, "kind": "econsult",
            "specialist_id": world.users["spec"], "form": _form(today)})
        assert r.status_code == 201, r.get_json()
        sent[key] = r.get_json()["id"]
    late = session.get(Referral, sent["A1-0-1"])
    late.sent_on, late.response_due = today - dt.timedelta(days=10), today - dt.timedelta(days=5)
    session.flush()
    assert [e.kind for e in escalate_overdue(session, today)] == ["pool"]  # named, unclaimed: to the pool
    session.commit()
    return sent


def _tile(page, name):
    return page.text_content(f'.tile[data-metric="{name}"] .value')


def test_a_specialist_answers_an_urgent_referral_and_staff_see_the_metrics_move(
        browser, open_as, sign_in, cases, as_user, shot):
    staff = open_as("staff-a", "/console/referrals/center", viewport={"width": 1200, "height": 1000})
    staff.wait_for_selector('.tile[data-metric="转诊数"]')
    assert _tile(staff, "转诊数") == "2" and _tile(staff, "已上报") == "1"
    assert _tile(staff, "按时响应率") == "0.0%（0/1）"  # the escalated one is late, the urgent one not yet due
    assert _tile(staff, "下转数") == "0"
    late_row = staff.locator(f'#overdue tr[data-referral="{cases["A1-0-1"]}"]')
    assert "已超时" in late_row.text_content() and "已上报科室和中心" in late_row.text_content()
    assert "overdue" in staff.get_attribute(f'#open tr[data-referral="{cases["A1-0-1"]}"]', "class")
    shot(staff, "console-referrals-center-before")

    spec = browser.new_page(viewport={"width": 1200, "height": 1000})
    sign_in(spec, "spec")
    spec.wait_for_url("**/console/referrals")  # a specialist lands on the inbox
    spec.wait_for_selector("#mine tbody tr[data-referral]")
    rows = spec.locator("#mine tbody tr[data-referral]")
    assert [rows.nth(i).get_attribute("data-referral") for i in range(rows.count())] == [cases["A1-0-0"]]
    assert spec.locator("#pool tbody tr[data-referral]").count() == 1  # the escalated one: in the pool now
    assert "已超时" in spec.text_content(f'#pool tr[data-referral="{cases["A1-0-1"]}"]')
    spec.wait_for_selector('#my-tiles .tile[data-metric="转诊数"]')
    assert _tile(spec, "转诊数") == "2" and _tile(spec, "超时未响应") == "1"  # their department's pool and theirs
    shot(spec, "console-referrals-inbox")

    # Keyboard: the resident's name is a link; Enter on it opens the case.
    spec.focus(f'#mine tr[data-referral="{cases["A1-0-0"]}"] a')
    spec.keyboard.press("Enter")
    spec.wait_for_selector("#bp-chart svg")
    assert spec.locator("#bp-chart svg circle").count() == 8  # four visits, systolic and diastolic
    assert spec.text_content("#c-state") == "待接诊"
    assert spec.locator("#action-buttons button").all_text_contents() == ["接诊", "拒绝", "转给科室", "请求补充资料"]
    spec.click("#action-buttons >> text=接诊")
    spec.click("#confirm-ok")
    spec.wait_for_selector("#c-state >> text=已接诊")

    # Meanwhile the case moves elsewhere (the specialist asks in another window): the answer is refused
    # with the current state named, in Chinese, and the page shows the case as it now is.
    etag = as_user("spec").get(f"/api/v1/referrals/{cases['A1-0-0']}").headers["ETag"]
    r = as_user("spec").post(f"/api/v1/referrals/{cases['A1-0-0']}/ask-info", json={"question": "请补充心电图"},
                             headers={"If-Match": etag})
    assert r.status_code == 200, r.get_json()
    spec.click("#action-buttons >> text=答复")
    spec.check("#f-answer input[value=advice]")
    spec.fill("#f-answer textarea[name=advice]", "继续用药")
    spec.fill("#f-answer textarea[name=plan]", "两周复测")
    spec.click("#f-answer button[type=submit]")
    spec.wait_for_selector("#message.error")
    assert spec.text_content("#message") == "转诊当前状态为“待补充资料”，不能答复。 页面已显示此病例的最新状态。"
    assert spec.text_content("#c-state") == "待补充资料"
    shot(spec, "console-referral-409")
    r = as_user("gp-a1").post(f"/api/v1/referrals/{cases['A1-0-0']}/give-info", json={"info": "心电图：窦性心律"},
                              headers={"If-Match": "*"})
    assert r.status_code == 200, r.get_json()

    spec.reload()
    spec.wait_for_selector("#c-state >> text=已接诊")
    spec.click("#action-buttons >> text=答复")
    spec.check("#f-answer input[value=clinic]")
    clinic_day = (china_today() + dt.timedelta(days=3)).isoformat()
    spec.fill("#f-answer input[name=clinic_date]", clinic_day)
    spec.select_option("#f-answer select[name=clinic_session]", "am")
    spec.fill("#f-answer textarea[name=advice]", "排查继发性高血压，加用螺内酯20mg qd")
    spec.fill("#f-answer textarea[name=plan]", "两周内复测血压、查血钾")
    spec.click("#f-answer button[type=submit]")
    spec.wait_for_selector("#c-state >> text=已答复")
    spec.click("#action-buttons >> text=写回转单")
    assert spec.input_value("#f-return input[name=doctor]") == "spec"
    assert spec.input_value("#f-return input[name=institution]") == "市一医院"
    spec.fill("#f-return textarea[name=diagnosis]", "原发性高血压3级")
    spec.fill("#f-return textarea[name=main_results]", "醛固酮/肾素比正常，心超左室肥厚")
    spec.fill("#f-return textarea[name=treatment]", "加用螺内酯")
    spec.fill("#f-return input[name=doctor_phone]", "021-38801234")
    spec.click("#f-return button[type=submit]")
    spec.wait_for_selector("#c-state >> text=已回转")
    kinds = spec.locator("#thread li").evaluate_all("items => items.map(i => i.dataset.kind)")
    assert kinds == ["create", "accept", "ask_info", "give_info", "answer", "return_case"]
    case = as_user("gp-a1").get(f"/api/v1/referrals/{cases['A1-0-0']}").get_json()
    assert case["answer"]["clinic_date"] == clinic_day and case["answer"]["clinic_session"] == "am"
    assert case["return_form"]["plan"] == "两周内复测血压、查血钾"  # the answer's plan carried into the form
    shot(spec, "console-referral-case-returned")

    staff.reload()
    staff.wait_for_selector('.tile[data-metric="转诊数"]')
    assert _tile(staff, "按时响应率") == "50.0%（1/2）"
    assert _tile(staff, "下转数") == "1"
    assert _tile(staff, "无需到院率") == "0.0%（0/1）"
    assert staff.locator("#rate-chart svg rect[fill]").count() == 3 + 3  # one team: three bars, three legend keys
    shot(staff, "console-referrals-center-after")
    with staff.expect_download() as got:
        staff.click("#metrics-export")
    assert got.value.suggested_filename.startswith("referral-metrics-team-")
    from openpyxl import load_workbook
    sheet = load_workbook(io.BytesIO(open(got.value.path(), "rb").read())).active
    assert [c.value for c in sheet[3]][:2] == ["团队A1", 2] and sheet["J3"].value == 1


def test_a_case_changed_meanwhile_is_refused_and_shown_afresh(open_as, cases, session, shot):
    from server.referrals.escalation import escalate_overdue

    spec = open_as("spec", f"/console/referrals/{cases['A1-0-0']}")
    spec.wait_for_selector("#c-state >> text=待接诊")
    # Nobody answered in time (as the command would see it days later): the case goes to the pool.
    assert [e.kind for e in escalate_overdue(session, china_today() + dt.timedelta(days=10))] == ["pool"]
    session.commit()
    spec.click("#action-buttons >> text=接诊")
    spec.click("#confirm-ok")
    spec.wait_for_selector("#message.error")
    assert spec.text_content("#message") == "此病例在您打开后已被更新（当前状态：待接诊），页面已显示最新内容，请确认后再操作。"
    spec.wait_for_selector("#c-badges .badge.escalated")
    shot(spec, "console-referral-412")
    spec.click("#action-buttons >> text=接诊")  # as a member of the pool now, on the fresh ETag
    spec.click("#confirm-ok")
    spec.wait_for_selector("#c-state >> text=已接诊")


def test_security_headers_and_local_assets_on_the_referral_pages(live, client):
    for path in ("/console/referrals", "/console/referrals/center", "/console/referrals/some-id"):
        r = client.get(path)
        assert r.status_code == 200
        csp = r.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        html = r.get_data(as_text=True)
        assert "<script>" not in html and "http://" not in html and "https://" not in html
        assert "/console/static/referrals.js" in html
    assert client.get("/console/static/referrals.js").status_code == 200


def test_a_gp_is_sent_to_their_page(open_as):
    page = open_as("gp-a1", "/console/referrals")
    page.wait_for_url("**/console/gp")


LAB_MESSAGE = Path(__file__).resolve().parents[1] / "labs" / "messages" / "utf8-escapes-criticals-cr.hl7"


def test_the_case_page_shows_the_attached_lab_report_with_its_flags(open_as, world, as_user,
                                                                     client, session, shot):
    """A real HL7 message filed under a resident (the labs intake), attached to a case by reference."""
    from server.auth.models import User
    from server.households import services as households
    from server.scope import Actor

    admin = Actor.of(session.get(User, world.users["admin"]))
    resident = households.create_resident(session, admin, {
        "household_id": world.households["A1-0"], "name": "张三", "sex": "2", "birth_date": dt.date(1949, 12, 31),
        "id_number": "11010519491231002X"})
    session.commit()
    feed = as_user("admin").post("/api/v1/labs/feeds", json={
        "hospital_id": world.hospital_id, "name": "市一医院 LIS", "center_ids": [world.centers["A"]]}).get_json()
    r = client.post("/api/v1/labs/hl7", data=LAB_MESSAGE.read_bytes(), content_type="x-application/hl7-v2+er7",
                    headers={"X-Lab-Feed-Key": feed["key"]})
    assert r.status_code == 200
    prefill = as_user("gp-a1").get(f"/api/v1/referrals/prefill?resident_id={resident.id}").get_json()
    reports = [rep["id"] for rep in prefill["lab_reports"]]
    assert reports, prefill
    r = as_user("gp-a1").post("/api/v1/referrals", json={
        "resident_id": resident.id, "urgency": "emergency", "kind": "econsult", "specialist_id": world.users["spec"],
        "form": _form(china_today()), "lab_report_ids": reports})
    assert r.status_code == 201, r.get_json()
    page = open_as("spec", "/console/referrals")
    page.wait_for_selector("#mine tbody tr[data-referral]")
    assert page.text_content("#mine tbody tr .badge") == "急诊"
    page.click("#mine tbody tr a")
    page.wait_for_selector("#labs table.results")
    assert page.locator("#labs tr.critical", has_text="钾").text_content().endswith("↑↑ 危急偏高")
    lead = page.locator("#labs tr", has_text="Lead")  # flagged N (normal): no mark
    assert lead.get_attribute("class") == "" and lead.locator("td").nth(4).text_content() == ""
    assert page.locator("#labs h3 .badge.critical").first.text_content() == "危急值"
    flagged = page.locator("#labs tr.flagged").all_text_contents()
    assert any("↓ 偏低" in text for text in flagged), flagged
    assert page.text_content("#fpg-chart") == "近一年没有记录。"
    shot(page, "console-referral-labs")


def test_the_escalation_is_in_the_thread_for_the_specialist_and_the_center(open_as, cases, shot):
    """The overdue case escalated by the command: its thread shows who (the system), when and why."""
    for user in ("spec", "staff-a"):
        page = open_as(user, f"/console/referrals/{cases['A1-0-1']}")
        entry = page.wait_for_selector("#thread li[data-kind=escalate]")
        head = entry.query_selector(".hint").text_content()
        text = entry.query_selector(".text").text_content()
        assert "系统（自动）· 超时升级" in head, head
        assert text.startswith("超过答复期限（") and "心内科全体专科医生（原指定spec）" in text and "甲中心" in text
        shot(page, f"console-referral-escalated-thread-{user}")
