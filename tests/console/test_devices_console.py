"""The device page (/console/devices): the registry per team, retire and lost with a confirmation that says
how many changes are waiting on the tablet."""
import uuid

import pytest

pytestmark = pytest.mark.browser


def _enrol(as_user, user, model):
    r = as_user(user).post("/api/v1/devices/enrol", json={"device_id": str(uuid.uuid4()), "model": model,
                                                          "app_version": "1.4.0", "store_version": 9})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["device_id"]


@pytest.fixture
def tablets(world, as_user):
    devs = {"busy": _enrol(as_user, "gp-a1", "TB-X606F"), "spare": _enrol(as_user, "nurse-a1", "TB-J606F"),
            "a2": _enrol(as_user, "gp-a2", "MatePad 11"), "b1": _enrol(as_user, "gp-b1", "TB-X606F")}
    r = as_user("gp-a1").get("/api/v1/sync/pull", headers={"X-Device-Id": devs["busy"], "X-Pending-Changes": "3"})
    assert r.status_code == 200 and r.headers["X-Device-State"] == "active"
    return devs


def test_staff_retire_and_report_lost_with_the_waiting_count(open_as, tablets, as_user, shot):
    problems = []

    def listen(page):
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" and "404" not in m.text else None)
        page.on("response", lambda r: problems.append(r.url) if r.status >= 400 and "favicon" not in r.url else None)
    page = open_as("staff-a", "/console/devices", listen=listen, viewport={"width": 1280, "height": 900})
    page.wait_for_selector("#devices tbody tr[data-device]")
    rows = page.locator("#devices tbody tr[data-device]")
    assert {rows.nth(i).get_attribute("data-device") for i in range(rows.count())} == {
        tablets["busy"], tablets["spare"], tablets["a2"]}  # center B's tablet is not shown
    assert page.locator("#devices tr.team th").all_text_contents() == ["团队A1（2 台）", "团队A2（1 台）"]
    busy = page.locator(f"tr[data-device='{tablets['busy']}']")
    assert busy.locator("td.waiting").text_content().startswith("3")
    # Retire: the confirmation says how many changes are waiting; cancelling sends nothing.
    busy.locator("button[data-order=retire]").click()
    page.wait_for_selector("#confirm-dialog[open]")
    text = page.text_content("#confirm-text")
    assert "报告有 3 条记录待上传" in text and "先上传" in text
    shot(page, "console-devices-confirm")
    page.click("#confirm-cancel")
    assert as_user("staff-a").get(f"/api/v1/devices/{tablets['busy']}").get_json()["state"] == "active"
    busy.locator("button[data-order=retire]").click()
    page.click("#confirm-ok")
    page.wait_for_selector(f"tr[data-device='{tablets['busy']}'][data-state=retire]")
    assert "已标记为待退役" in page.text_content("#message")
    got = as_user("staff-a").get(f"/api/v1/devices/{tablets['busy']}").get_json()
    assert (got["state"], got["pending_at_order"], got["state_changed_by"]) == ("retire", 3, "staff-a")
    # Lost: the tablet that never reported a count says so.
    page.locator(f"tr[data-device='{tablets['a2']}'] button[data-order=lost]").click()
    page.wait_for_selector("#confirm-dialog[open]")
    assert "尚未报告" in page.text_content("#confirm-text")
    page.click("#confirm-ok")
    page.wait_for_selector(f"tr[data-device='{tablets['a2']}'][data-state=lost]")
    # A retiring tablet can still be reported lost, but not retired again.
    assert page.locator(f"tr[data-device='{tablets['busy']}'] button").all_text_contents() == ["挂失"]
    page.select_option("#state-filter", "lost")
    page.click("#device-filter button[type=submit]")
    page.wait_for_selector("#page >> text=共 1 台")
    page.select_option("#state-filter", "")
    page.click("#device-filter button[type=submit]")
    page.wait_for_selector("#page >> text=共 3 台")
    shot(page, "console-devices")
    assert not problems, problems


def test_a_gp_is_sent_to_the_gp_page(open_as, tablets):
    page = open_as("gp-a1", "/console/devices")
    page.wait_for_url("**/console/gp")
