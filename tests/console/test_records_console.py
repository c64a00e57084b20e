"""Center staff open a household, find a resident, page through households and undo an assignment batch."""
import pytest

pytestmark = pytest.mark.browser


@pytest.fixture
def staff_page(open_as):
    """staff_page(path) -> staff-a's page at path."""
    return lambda path: open_as("staff-a", path)


def test_household_detail_shows_members_visits_reports_and_history(staff_page, live, world, as_user, shot):
    admin = as_user("admin")
    rid = world.residents["A1-0-0"]
    assert admin.post(f"/api/v1/residents/{rid}/conditions", json={"condition": "hypertension"}).status_code == 201
    r = admin.post("/api/v1/followups", json={
        "id": "6a1f0e1c-0000-4000-8000-000000000001", "resident_id": rid, "condition": "hypertension",
        "form": {"visit_date": "2026-01-05", "visit_mode": 1, "symptoms": [1], "sbp": 152, "dbp": 96,
                 "medication_adherence": 1, "adverse_reaction": 1, "doctor": "李医生"}})
    assert r.status_code == 201, r.get_json()
    as_user("staff-a").post("/api/v1/assignments/", json={
        "household_ids": [world.households["A1-0"]], "team_id": world.teams["A2"], "reason": "调往A2"})
    as_user("staff-a").post("/api/v1/assignments/", json={
        "household_ids": [world.households["A1-0"]], "team_id": world.teams["A1"], "reason": "调回A1"})
    page = staff_page("/console/households")
    page.click("#households a >> text=A1路1号")
    page.wait_for_selector("#h-history tbody tr >> text=调回A1")
    assert page.text_content("#h-address") == "A1路1号"
    members = page.locator("#members tbody tr")
    assert members.count() == 2
    first = [members.nth(0).locator("td").nth(i).text_content() for i in range(7)]
    assert first[:3] == ["张三", "户主", "男"] and first[6] == "高血压"
    assert members.nth(1).locator("td").nth(1).text_content() == "配偶"
    visit = page.locator("#visits tbody tr").first.text_content()
    assert "2026-01-05" in visit and "张三" in visit and "152/96 mmHg" in visit
    assert page.locator("#reports tbody tr").first.text_content() == "没有化验报告。"
    history = page.locator("#h-history tbody tr")
    assert history.count() == 3  # the first: the household's team when its file was opened
    assert [history.nth(i).locator("td").nth(3).text_content() for i in range(2)] == ["调回A1", "调往A2"]
    assert history.nth(0).locator("td").nth(1).text_content() == "团队A2"
    assert history.nth(0).locator("td").nth(4).text_content() == "staff-a"
    shot(page, "console-household-detail")


@pytest.mark.parametrize("query, expected", [
    ("王五", ["王五"]), ("ww", ["王五"]), ("13800000002", ["王五"]), (None, ["王五"]), ("不存在的人", [])])
def test_resident_search(staff_page, live, world, as_user, query, expected, shot):
    if query is None:  # the ID number as the health file has it
        from server.households.models import Resident  # noqa: F401 (the number comes from the API)
        query = as_user("admin").get(f"/api/v1/residents/{world.residents['A1-1-0']}").get_json()["id_number"]
    page = staff_page("/console/residents")
    page.wait_for_selector("body:not([aria-busy])")  # the search form's handler is attached
    page.fill("#search input[name=q]", query)
    page.keyboard.press("Enter")
    page.wait_for_selector("#found:not([hidden]) tbody tr")
    rows = page.locator("#found tbody tr[data-id]")
    assert [rows.nth(i).locator("td").first.text_content() for i in range(rows.count())] == expected
    if expected:
        assert "A1路2号" in rows.first.text_content() and "团队A1" in rows.first.text_content()
        if query == "ww":
            shot(page, "console-resident-search")
        rows.first.locator("a").click()
        page.wait_for_selector("#h-address:text('A1路2号')")
    else:
        assert "没有找到" in page.text_content("#found tbody")


def test_households_pager_sits_above_the_rows(staff_page, live, world, as_user):
    admin = as_user("admin")
    for n in range(55):
        assert admin.post("/api/v1/households", json={"committee_id": world.committees["A0"],
                                                      "address": f"新村{n:02d}号"}).status_code == 201
    page = staff_page("/console/households")
    page.wait_for_selector("#page >> text=第 1 / 2 页，共 61 户")
    # The pager is reachable without scrolling past 50 rows: above the table, in the first screen.
    pager_y = page.locator("#next").bounding_box()["y"]
    assert pager_y < page.locator("#households tbody tr").first.bounding_box()["y"] < 900
    page.keyboard.press("Alt+ArrowRight")
    page.wait_for_selector("#page >> text=第 2 / 2 页")
    assert page.locator("#households tbody tr").count() == 11
    assert page.text_content(".pager .page") == page.text_content("#page")
    page.select_option("#page-size", "100")
    page.wait_for_selector("#page >> text=第 1 / 1 页，共 61 户")
    assert page.locator("#households tbody tr").count() == 61


def test_history_lists_batches_and_undoes_one(staff_page, live, world, as_user, shot):
    staff = as_user("staff-a")
    r = staff.post("/api/v1/assignments/by-committee", json={"committee_id": world.committees["A2"],
                                                             "team_id": None, "reason": "误点取消分配"})
    assert r.get_json()["changed"] == 2
    assert as_user("gp-a2").get("/api/v1/households").get_json()["total"] == 0
    page = staff_page("/console/history")
    page.wait_for_selector("#batches tbody tr[data-batch]")
    first = page.locator("#batches tbody tr[data-batch]").first
    assert "误点取消分配" in first.text_content() and "团队A2 → 未分配：2 户" in first.text_content()
    assert "staff-a" in first.text_content()
    shot(page, "console-history")
    first.locator("button").click()
    page.wait_for_selector("#confirm-dialog[open]")
    assert "「未分配」的 2 户移回「团队A2」" in page.text_content("#confirm-text")
    assert "「居委会A2」交回「团队A2」" in page.text_content("#confirm-text")
    assert "居委会A2（居委会本身）：团队A2 → 未分配" in first.text_content()
    shot(page, "console-history-undo-confirm")
    page.click("#confirm-ok")
    page.wait_for_selector("#message.info >> text=已撤销：2 户（4 名居民）移回原团队")
    assert as_user("gp-a2").get("/api/v1/households").get_json()["total"] == 2
    committees = {c["id"]: c["team_id"] for c in staff.get("/api/v1/committees").get_json()}
    assert committees[world.committees["A2"]] == world.teams["A2"]  # the committee went back too
    page.wait_for_selector("#batches tbody tr[data-batch] >> text=撤销：误点取消分配")
    newest = page.locator("#batches tbody tr[data-batch]").first
    assert "撤销：误点取消分配" in newest.text_content() and "未分配 → 团队A2：2 户" in newest.text_content()
    # Undoing the original again is refused in Chinese-facing words, and nothing moves.
    page.locator("#batches tbody tr[data-batch]").nth(1).locator("button").click()
    page.click("#confirm-ok")
    page.wait_for_selector("#message.error")
    assert as_user("gp-a2").get("/api/v1/households").get_json()["total"] == 2


def test_a_search_in_the_address_runs_on_load(open_as):
    page = open_as("staff-a", "/console/residents?q=zs")
    page.wait_for_selector("#found:not([hidden]) tbody tr[data-id]")
    assert page.input_value("#search input[name=q]") == "zs"
    assert "张三" in page.text_content("#found tbody")
