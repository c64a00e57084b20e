"""The center staff console in a real browser: sign in, see loads, accept a proposal, assign households."""
import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_wrong_password_is_explained(browser, sign_in):
    page = browser.new_page()
    sign_in(page, "staff-a", "wrong")
    page.wait_for_selector("#message.error")
    assert "Wrong username or password" in page.text_content("#message")


def test_staff_sees_loads_and_accepts_a_proposal(browser, sign_in, shot):
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    sign_in(page, "staff-a")
    page.wait_for_selector("#loads tbody tr")
    rows = page.locator("#loads tbody tr")
    names = [rows.nth(i).locator("td").first.text_content() for i in range(rows.count())]
    assert names == ["团队A1", "团队A2", "未分配"]
    assert page.text_content("#who").startswith("staff-a")
    page.click("#propose")
    page.wait_for_selector("#proposal:not([hidden])")
    assert "建议移动 2 户" in page.text_content("#message")
    shot(page, "console-proposal")
    page.click("#accept")
    page.wait_for_selector("#message.info >> text=已调整 2 户")
    expect(page.locator("#loads tbody tr")).to_have_count(2)  # the page's CSP allows no wait_for_function


def test_committee_assignment_form(browser, sign_in, world):
    page = browser.new_page()
    sign_in(page, "staff-a")
    page.wait_for_selector("#committee-form select[name=committee_id] option", state="attached")
    page.select_option("#committee-form select[name=committee_id]", str(world.committees["A0"]))
    page.select_option("#committee-form select[name=team_id]", str(world.teams["A2"]))
    page.fill("#committee-form input[name=reason]", "划片调整")
    page.click("#committee-form button[type=submit]")
    page.wait_for_selector("#message.info >> text=已分配 2 户")


def test_households_page_bulk_assigns(browser, live, world, as_user, sign_in, shot):
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    sign_in(page, "staff-a")
    page.wait_for_selector("#loads tbody tr")
    page.goto(f"{live}/console/households")
    page.wait_for_selector("#households tbody tr")
    assert "共 6 户" in page.text_content("#page")
    page.check("#filter input[name=unassigned]")
    page.click("#filter button[type=submit]")
    page.wait_for_selector("#page >> text=共 2 户")
    page.check("#all")
    page.select_option("#assign select[name=team_id]", str(world.teams["A1"]))
    page.fill("#assign input[name=reason]", "新建小区")
    page.click("#assign button[type=submit]")
    page.wait_for_selector("#message.info >> text=已分配 2 户")
    shot(page, "console-households")
    assert as_user("gp-a1").get("/api/v1/households").get_json()["total"] == 4


def test_a_gp_is_told_the_console_is_for_staff(browser, sign_in):
    page = browser.new_page()
    sign_in(page, "gp-a1")
    page.wait_for_selector("#message.warn")
    # The explanation must stay: no staff-only call may run and replace it with a 403.
    page.wait_for_load_state("networkidle")
    assert page.get_attribute("#message", "class") == "warn"
    assert "工作人员" in page.text_content("#message")
    assert page.locator("#loads tbody tr").count() == 0
