"""Refused lab messages for center staff, and the access log for admin."""
import pytest

pytestmark = pytest.mark.browser
HL7 = "x-application/hl7-v2+er7"
NOT_ORU = ("MSH|^~\\&|LIS|HOSP_T|GPO|CLINIC|20250302110000||ADT^A01|R-1|P|2.5.1|||||CHN|UNICODE UTF-8\r"
           "PID|1||H-1^^^^MR||路人甲||19800101|M\r")


@pytest.fixture
def refused(world, as_user, client):
    r = as_user("admin").post("/api/v1/labs/feeds", json={
        "hospital_id": world.hospital_id, "name": "市一医院 LIS", "center_ids": [world.centers["A"]]})
    key = r.get_json()["key"]
    for raw in (NOT_ORU.encode(), "这不是 HL7".encode()):
        r = client.post("/api/v1/labs/hl7", data=raw, content_type=HL7, headers={"X-Lab-Feed-Key": key})
        assert r.status_code == 422, r.data


def test_staff_read_a_refused_message_as_received(open_as, refused, as_user, shot):
    page = open_as("staff-a", "/console/rejections")
    assert page.locator("header nav >> text=访问日志").is_hidden()  # admin only
    page.wait_for_selector("#rejections tbody tr[data-id]")
    rows = page.locator("#rejections tbody tr[data-id]")
    assert rows.count() == 2
    api = as_user("staff-a").get("/api/v1/labs/rejections").get_json()["items"]
    assert [rows.nth(i).locator("td").nth(5).text_content() for i in range(2)] == [r["reason"] for r in api]
    adt = next(i for i, r in enumerate(api) if r["control_id"] == "R-1")
    rows.nth(adt).locator("button").click()
    page.wait_for_selector("#rejection:not([hidden])")
    assert "PID|1||H-1^^^^MR||路人甲" in page.text_content("#r-raw")
    assert page.text_content("#r-ack").startswith("MSH|")
    shot(page, "console-rejections")


def test_admin_reads_the_access_log(open_as, world, as_user, shot):
    as_user("gp-a1").get(f"/api/v1/households/{world.households['A1-0']}")
    page = open_as("admin", "/console/audit")
    page.wait_for_selector("#events tbody tr[data-id]")
    page.select_option("#audit-filter select[name=action]", "read")
    page.fill("#audit-filter input[name=user_id]", str(world.users["gp-a1"]))
    page.click("#audit-filter button[type=submit]")
    page.wait_for_selector("#page >> text=共 1 条")
    cells = page.locator("#events tbody tr[data-id] td")
    assert cells.nth(1).text_content() == f"gp-a1（#{world.users['gp-a1']}）"
    assert [cells.nth(i).text_content() for i in (2, 3)] == ["家庭医生团队", "查看"]
    assert cells.nth(4).text_content().startswith("家庭 " + world.households["A1-0"][:8])
    shot(page, "console-audit")


def test_staff_are_told_the_access_log_is_for_admin(open_as):
    page = open_as("staff-a", "/console/audit")
    page.wait_for_selector("#message.warn >> text=仅管理员")
    page.wait_for_selector("body:not([aria-busy])")
    assert page.get_attribute("#message", "class") == "warn"
