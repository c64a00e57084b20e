"""The center staff console in a real browser: sign in, see loads, accept a proposal, assign households."""
import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_wrong_password_is_explained_in_chinese(browser, sign_in, shot):
    page = browser.new_page(viewport={"width": 1200, "height": 700})
    sign_in(page, "staff-a", "wrong")
    page.wait_for_selector("#message.error")
    assert page.text_content("#message") == "用户名或密码错误。"
    shot(page, "console-login-wrong-password")


def test_form_errors_from_the_api_are_chinese(open_as, world):
    page = open_as("staff-a")
    page.wait_for_selector("#loads tbody tr")
    text = page.evaluate("""() => Console.api("POST", "/assignments/", {household_ids: [], team_id: null, reason: "x"})
        .then(() => "sent", (err) => err.message)""")
    assert text == "输入有误：household_ids、reason。 — 家庭：长度须在 1 到 10000 之间。 — 原因：长度须在 2 到 200 之间。"


def test_staff_sees_loads_and_accepts_a_proposal(browser, sign_in, shot):
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    sign_in(page, "staff-a")
    page.wait_for_selector("#loads tbody tr")
    rows = page.locator("#loads tbody tr")
    names = [rows.nth(i).locator("td").first.text_content() for i in range(rows.count())]
    assert names == ["团队A1", "团队A2", "未分配"]
    assert page.text_content("#who").startswith("staff-a")
    # The other tests open their pages by address (open_as): the menu must lead to those addresses.
    links = page.eval_on_selector_all("#staff-nav a:not([hidden])[href^='/console']", "links => links.map(a => [a.textContent, a.pathname])")
    assert dict(links) == {"团队负荷与分配": "/console/", "家庭档案": "/console/households", "查找居民": "/console/residents",
                           "分配记录": "/console/history", "导入居民": "/console/import", "管理指标": "/console/indicators",
                           "转诊": "/console/referrals/center", "化验待匹配": "/console/labs",
                           "化验拒收": "/console/rejections", "平板设备": "/console/devices"}
    page.click("#propose")
    page.wait_for_selector("#proposal:not([hidden])")
    assert "建议移动 2 户" in page.text_content("#message")
    shot(page, "console-proposal")
    page.click("#accept")
    page.wait_for_selector("#message.info >> text=已调整 2 户")
    expect(page.locator("#loads tbody tr")).to_have_count(2)  # the page's CSP allows no wait_for_function


def test_committee_assignment_form(open_as, world, as_user, shot):
    page = open_as("staff-a")
    page.wait_for_selector(f"#committee-form select[name=committee_id] option[value='{world.committees['A0']}']",
                           state="attached")
    page.select_option("#committee-form select[name=committee_id]", str(world.committees["A0"]))
    page.fill("#committee-form input[name=reason]", "划片调整")
    # No team chosen yet: nothing is sent, the clerk is asked to choose (no "(no team)" default).
    assert page.input_value("#committee-form select[name=team_id]") == ""
    page.click("#committee-form button[type=submit]")
    page.wait_for_selector("#message.error >> text=请选择团队")
    assert not page.locator("#confirm-dialog").is_visible()
    page.select_option("#committee-form select[name=team_id]", str(world.teams["A2"]))
    page.click("#committee-form button[type=submit]")
    page.wait_for_selector("#confirm-dialog[open]")
    text = page.text_content("#confirm-text")
    assert "共 2 户、4 名居民将被移动" in text and "从「未分配」到「团队A2」：2 户，4 名居民" in text
    assert "003" in page.text_content("#confirm-title") and "团队A2" in page.text_content("#confirm-title")
    shot(page, "console-committee-confirm")
    page.keyboard.press("Escape")  # Esc answers no: nothing moves
    page.wait_for_selector("#message.info >> text=已取消，未作任何改动")
    assert as_user("gp-a2").get("/api/v1/households").get_json()["total"] == 2
    page.click("#committee-form button[type=submit]")
    page.wait_for_selector("#confirm-dialog[open]")
    page.click("#confirm-ok")
    page.wait_for_selector("#message.info >> text=已分配 2 户（4 名居民）")
    assert as_user("gp-a2").get("/api/v1/households").get_json()["total"] == 4


def test_unassigning_a_committee_is_an_explicit_choice_and_says_who_moves(open_as, world, as_user, shot):
    page = open_as("staff-a")
    page.wait_for_selector(f"#committee-form select[name=committee_id] option[value='{world.committees['A1']}']",
                           state="attached")
    page.select_option("#committee-form select[name=committee_id]", str(world.committees["A1"]))
    page.select_option("#committee-form select[name=team_id]", "none")
    page.fill("#committee-form input[name=reason]", "居委会撤并")
    page.click("#committee-form button[type=submit]")
    page.wait_for_selector("#confirm-dialog[open]")
    assert "取消" in page.text_content("#confirm-title")
    assert "从「团队A1」到「未分配」：2 户，4 名居民" in page.text_content("#confirm-text")
    shot(page, "console-committee-unassign-confirm")
    page.click("#confirm-cancel")
    page.wait_for_selector("#message.info >> text=已取消")
    assert as_user("gp-a1").get("/api/v1/households").get_json()["total"] == 2


def test_households_page_bulk_assigns(open_as, world, as_user, shot):
    page = open_as("staff-a", "/console/households")
    page.wait_for_selector("#households tbody tr")
    assert "共 6 户" in page.text_content("#page")
    page.check("#filter input[name=unassigned]")
    page.click("#filter button[type=submit]")
    page.wait_for_selector("#page >> text=共 2 户")
    page.check("#all")
    assert page.text_content("#selected-count") == "已选 2 户"
    page.fill("#assign input[name=reason]", "新建小区")
    page.click("#assign button[type=submit]")
    page.wait_for_selector("#message.error >> text=请选择团队")
    page.select_option("#assign select[name=team_id]", str(world.teams["A1"]))
    page.click("#assign button[type=submit]")
    page.wait_for_selector("#confirm-dialog[open]")
    assert "从「未分配」到「团队A1」：2 户，4 名居民" in page.text_content("#confirm-text")
    shot(page, "console-households-confirm")
    page.click("#confirm-ok")
    page.wait_for_selector("#message.info >> text=已分配 2 户")
    shot(page, "console-households")
    assert as_user("gp-a1").get("/api/v1/households").get_json()["total"] == 4


def test_a_gp_is_told_the_console_is_for_staff(browser, live, sign_in, shot):
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    sign_in(page, "gp-a1")
    page.wait_for_url(f"{live}/console/gp")
    page.wait_for_selector("#gp-name:text('gp-a1')")
    assert "平板" in page.text_content("main") and "工作人员" in page.text_content("main")
    assert page.locator("#staff-nav").is_hidden() and page.locator("#message").is_hidden()
    shot(page, "console-gp")
    # Any staff page a GP opens leads to the same explanation, with no 403 on the way.
    for path in ("/console/households", "/console/import", "/console/history"):
        page.goto(f"{live}{path}")
        page.wait_for_url(f"{live}/console/gp")
        page.wait_for_selector("#gp-name:text('gp-a1')")
        assert page.locator("#message").is_hidden()
    page.click("main a >> text=查看本团队的慢病管理指标")
    page.wait_for_selector("#indicator-rows tbody tr")
    assert page.locator("#message").is_hidden()
