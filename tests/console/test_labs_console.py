"""The lab results queue in the console: center staff see what the server could not match with certainty and
file each message under a resident (the suggested one, or one they search for) or dismiss it with a reason."""
import datetime as dt

import pytest
from playwright.sync_api import expect

from gpcore import idcard

pytestmark = pytest.mark.browser
HL7 = "x-application/hl7-v2+er7"
OBR = "OBR|1||{filler}|{panel}|||20250302070000|||||||||||||||20250302105500|||F"
GLU = ["OBX|1|NM|GLU^血糖^L||5.1|mmol/L|3.9-6.1|N|||F"]
POTASSIUM = ["OBX|1|NM|K^钾^L||6.8|mmol/L|3.5-5.3|HH|||F", "OBX|2|NM|NA^钠^L||139|mmol/L|137-147|N|||F"]
STRANGER = idcard.make("110105", dt.date(1980, 1, 1), 11)  # on file for nobody
# Posted in this order, so the page lists them the other way round (newest first).
MESSAGES = [
    ("C-1", f"PID|1||{STRANGER}^^^^ID~H1^^^^MR||路人甲||19800101|M", "GLU^血糖^L", GLU),  # nobody on file: no_candidate
    ("C-2", "PID|1||H-9^^^^MR||王五||19510314|M", "K^电解质^L", POTASSIUM),  # 王五 of A1 suggested; critical
    ("C-3", "PID|1||H-2^^^HOSP^MR||赵陆||19710314|F", "GLU^血糖^L", GLU),  # 赵六 misspelt: no_candidate
    ("C-4", "PID|1||H-2^^^HOSP^MR||赵陆||19710314|F", "GLU^血糖^L", GLU),  # the same patient again
]


def _oru(control_id, pid, panel, obx):
    segs = [f"MSH|^~\\&|LIS|HOSP_T|GPO|CLINIC|20250302110000||ORU^R01^ORU_R01|{control_id}|P|2.5.1"
            "|||||CHN|UNICODE UTF-8", pid, OBR.format(filler=f"F-{control_id}", panel=panel), *obx]
    return ("\r".join(segs) + "\r").encode()


@pytest.fixture
def post_message(world, as_user, client):
    """post_message(control_id, pid, panel, obx) through a feed of the world's hospital serving center A."""
    r = as_user("admin").post("/api/v1/labs/feeds", json={
        "hospital_id": world.hospital_id, "name": "市一医院 LIS", "center_ids": [world.centers["A"]]})
    assert r.status_code == 201, r.get_json()
    key = r.get_json()["key"]

    def post(control_id, pid, panel, obx):
        r = client.post("/api/v1/labs/hl7", data=_oru(control_id, pid, panel, obx), content_type=HL7,
                        headers={"X-Lab-Feed-Key": key})
        assert r.status_code == 200, r.data
    return post


@pytest.fixture
def queued(post_message, as_user):
    """MESSAGES posted, all queued: {control_id: message id}."""
    for message in MESSAGES:
        post_message(*message)
    items = as_user("staff-a").get("/api/v1/labs/unmatched").get_json()["items"]
    assert [m["control_id"] for m in items] == ["C-1", "C-2", "C-3", "C-4"]
    return {m["control_id"]: m["id"] for m in items}


@pytest.fixture
def labs_page(open_as, queued):
    """staff-a on /console/labs with the queue shown."""
    page = open_as("staff-a", "/console/labs")
    page.wait_for_selector("#queue tbody tr[data-id]")
    return page


def _queue_rows(page):
    rows = page.locator("#queue tbody tr[data-id]")
    return [rows.nth(i).get_attribute("data-id") for i in range(rows.count())]


def _wait_for_rows(page, n):
    # a locator wait: the page's CSP allows no eval, which wait_for_function needs
    expect(page.locator("#queue tbody tr[data-id]")).to_have_count(n)


def test_staff_confirm_the_suggested_resident(labs_page, queued, world, as_user, shot):
    page = labs_page
    assert _queue_rows(page) == [queued[c] for c in ("C-4", "C-3", "C-2", "C-1")]  # newest first
    assert "共 4 条" in page.text_content("#page")
    cells = page.locator(f"#queue tr[data-id='{queued['C-1']}'] td")
    assert [cells.nth(i).text_content() for i in range(1, 6)] == [
        "路人甲", "男", "1980-01-01", STRANGER, "查无此人"]
    wang = page.locator(f"#queue tr[data-id='{queued['C-2']}']")
    assert wang.locator(".badge.critical").text_content() == "危急值"
    assert page.locator("#queue .badge.critical").count() == 1
    shot(page, "console-labs-queue")

    wang.click()
    page.wait_for_selector("#suggestion:not([hidden])")
    record = as_user("admin").get(f"/api/v1/residents/{world.residents['A1-1-0']}").get_json()["record_number"]
    assert page.text_content("#suggested") == f"建议匹配：王五 男 1951-03-14 {record}"
    assert "姓名、出生日期和性别与之相同" in page.text_content("#d-reason")
    critical = page.locator("table.results tr.critical")
    assert critical.count() == 1 and "钾" in critical.text_content() and "危急" in critical.text_content()
    assert page.locator("#same").is_hidden()
    shot(page, "console-labs-suggested")

    assert as_user("gp-a1").get("/api/v1/lab-reports").get_json()["total"] == 0
    page.click("#confirm")
    page.wait_for_selector("#message.info >> text=已匹配到 王五")
    _wait_for_rows(page, 3)
    assert queued["C-2"] not in _queue_rows(page) and page.locator("#detail").is_hidden()
    reports = as_user("gp-a1").get("/api/v1/lab-reports").get_json()
    assert reports["total"] == 1 and reports["items"][0]["critical"] is True
    assert reports["items"][0]["resident_id"] == world.residents["A1-1-0"]


def test_staff_find_the_resident_and_file_the_same_patient_together(labs_page, queued, world, as_user, shot):
    page = labs_page
    page.click(f"#queue tr[data-id='{queued['C-3']}'] button")
    page.wait_for_selector("#same:not([hidden])")
    assert page.locator("#suggestion").is_hidden()
    assert page.input_value("#search input[name=q]") == "赵陆"  # the name as sent, to start from
    other = page.locator(f"#same-list input[value='{queued['C-4']}']")
    assert "医院患者号相同" in page.text_content("#same-list")
    other.check()
    page.fill("#search input[name=q]", "赵六")
    page.click("#search button[type=submit]")
    page.wait_for_selector("#residents:not([hidden]) tbody tr")
    found = page.locator(f"#residents tr[data-id='{world.residents['A1-1-1']}']")
    assert found.locator("td").first.text_content() == "赵六"
    assert "团队A1" in found.text_content()
    shot(page, "console-labs-search")

    found.locator("button").click()
    page.wait_for_selector("#message.info >> text=已匹配到 赵六，另有 1 条同一患者的消息一并归档")
    _wait_for_rows(page, 2)
    assert set(_queue_rows(page)) == {queued["C-1"], queued["C-2"]}
    reports = as_user("gp-a1").get("/api/v1/lab-reports").get_json()
    assert reports["total"] == 2
    assert {r["resident_id"] for r in reports["items"]} == {world.residents["A1-1-1"]}


def test_staff_dismiss_with_a_reason(labs_page, queued, as_user, shot):
    page = labs_page
    page.click(f"#queue tr[data-id='{queued['C-1']}']")
    page.wait_for_selector("#detail:not([hidden])")
    assert page.text_content("#d-patient") == f"医院发送的姓名路人甲性别男出生日期1980-01-01身份证号{STRANGER}其他标识病历号 H1"
    page.click("#dismiss button[type=submit]")  # no reason: the form does not send
    assert page.locator("#message").is_hidden()
    page.fill("#dismiss input[name=reason]", "非本辖区居民")
    page.click("#dismiss button[type=submit]")
    page.wait_for_selector("#message.info >> text=已移出队列")
    _wait_for_rows(page, 3)
    shot(page, "console-labs-dismissed")
    dismissed = as_user("staff-a").get("/api/v1/labs/unmatched?status=dismissed").get_json()["items"]
    assert [(m["id"], m["dismiss_reason"]) for m in dismissed] == [(queued["C-1"], "非本辖区居民")]


def test_a_message_filed_meanwhile_is_explained(labs_page, queued, world, as_user):
    page = labs_page
    page.click(f"#queue tr[data-id='{queued['C-2']}']")
    page.wait_for_selector("#suggestion:not([hidden])")
    # Another member of staff files it while this page shows it: confirming now is refused, and said so.
    r = as_user("staff-a").post(f"/api/v1/labs/unmatched/{queued['C-2']}/match",
                                json={"resident_id": world.residents["A1-1-0"]})
    assert r.status_code == 200
    page.click("#confirm")
    page.wait_for_selector("#message.error >> text=already matched")
    assert page.locator("#detail").is_visible()  # nothing pretends it worked


def test_pages_run_from_the_newest(labs_page, queued, post_message, as_user):
    for n in range(48):
        post_message(f"P-{n}", f"PID|1||P{n}^^^^MR||过客{n}||19800101|M", "GLU^血糖^L", GLU)
    page = labs_page
    page.reload()
    page.wait_for_selector("#page >> text=第 1 / 2 页，共 52 条")
    newest = as_user("staff-a").get("/api/v1/labs/unmatched?order=newest&page_size=50").get_json()["items"]
    assert newest[0]["control_id"] == "P-47" and _queue_rows(page) == [m["id"] for m in newest]
    page.click("#next")
    page.wait_for_selector("#page >> text=第 2 / 2 页")
    _wait_for_rows(page, 2)
    assert _queue_rows(page) == [queued["C-2"], queued["C-1"]]  # the oldest last
    page.click("#prev")
    _wait_for_rows(page, 50)


def test_a_gp_is_told_the_labs_page_is_for_staff(open_as, live, queued):
    page = open_as("gp-a1", "/console/labs")
    page.wait_for_url(f"{live}/console/gp")
    page.wait_for_selector("body:not([aria-busy])")
    assert "平板" in page.text_content("main") and page.locator("#message").is_hidden()
    assert page.locator("#queue").count() == 0
