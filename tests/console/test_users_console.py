"""Admin manages accounts: create a GP in a team, disable and re-enable, reset a password."""
import pytest

pytestmark = pytest.mark.browser


def login(client, username, password):
    return client.post("/api/v1/auth/login", json={"username": username, "password": password})


@pytest.fixture
def users_page(open_as):
    page = open_as("admin", "/console/users")
    page.wait_for_selector("#users tbody tr[data-user='gp-a1']")
    return page


def test_admin_creates_a_gp_in_a_team(users_page, world, client, shot):
    page = users_page
    cells = page.locator("#users tr[data-user='gp-a1'] td")
    assert [cells.nth(i).text_content() for i in range(6)] == ["gp-a1", "gp-a1", "家庭医生团队", "团队A1", "家庭医生（团队长）", "正常"]
    form = "#new-user"
    page.fill(f"{form} input[name=username]", "wang.yi")
    page.fill(f"{form} input[name=full_name]", "王医生")
    page.fill(f"{form} input[name=password]", "long-enough-1")
    page.click(f"{form} button[type=submit]")
    page.wait_for_selector("#message.error >> text=请选择角色")
    page.select_option(f"{form} select[name=role]", "gp")
    assert page.locator(f"{form} select[name=center_id]").is_hidden()
    page.click(f"{form} button[type=submit]")
    page.wait_for_selector("#message.error >> text=请选择团队")
    page.select_option(f"{form} select[name=team_id]", str(world.teams["A2"]))
    page.select_option(f"{form} select[name=team_role]", "nurse")
    page.click(f"{form} button[type=submit]")
    page.wait_for_selector("#message.info >> text=已新建账号 wang.yi")
    row = page.locator("#users tr[data-user='wang.yi'] td")
    assert [row.nth(i).text_content() for i in (1, 3, 4)] == ["王医生", "团队A2", "社区护士"]
    assert login(client, "wang.yi", "long-enough-1").status_code == 200
    shot(page, "console-users")
    # A password too short is refused by the API, and said in Chinese.
    page.fill(f"{form} input[name=username]", "li.er")
    page.fill(f"{form} input[name=full_name]", "李")
    page.fill(f"{form} input[name=password]", "short")
    page.select_option(f"{form} select[name=role]", "admin")
    page.click(f"{form} button[type=submit]")
    page.wait_for_selector("#message.error >> text=密码：长度须在 10 到 200 之间。")


def test_admin_disables_enables_and_resets_a_password(users_page, client, shot):
    page = users_page
    row = page.locator("#users tr[data-user='gp-a2']")
    row.locator("button >> text=停用").click()
    page.wait_for_selector("#confirm-dialog[open]")
    page.click("#confirm-ok")
    page.wait_for_selector("#message.info >> text=gp-a2 已停用")
    assert row.locator("td").nth(5).text_content() == "已停用"
    assert login(client, "gp-a2", "correct-horse-1").status_code == 401
    row.locator("button >> text=启用").click()
    page.wait_for_selector("#message.info >> text=gp-a2 已启用")
    assert login(client, "gp-a2", "correct-horse-1").status_code == 200
    row.locator("button >> text=重设密码").click()
    page.wait_for_selector("#confirm-dialog[open]")
    assert page.locator("#confirm-input").is_visible()
    page.fill("#confirm-input", "a-new-password-2")
    shot(page, "console-users-reset")
    page.click("#confirm-ok")
    page.wait_for_selector("#message.info >> text=gp-a2 的密码已重设")
    assert login(client, "gp-a2", "a-new-password-2").status_code == 200
    assert login(client, "gp-a2", "correct-horse-1").status_code == 401


def test_admin_moves_a_gp_to_another_team(users_page, world, as_user, shot):
    page = users_page
    row = page.locator("#users tr[data-user='gp-a1']")
    row.locator("button >> text=调整团队").click()
    page.wait_for_selector("#move-card:not([hidden])")
    assert "现属团队A1" in page.text_content("#move-who")
    options = page.locator("#move-user select[name=team_id] option")
    assert "团队A1" not in [options.nth(i).text_content().split()[-1] for i in range(options.count())]
    page.click("#move-user button[type=submit]")
    page.wait_for_selector("#message.error >> text=请选择要调往的团队")
    page.select_option("#move-user select[name=team_id]", str(world.teams["A2"]))
    page.click("#move-user button[type=submit]")
    page.wait_for_selector("#message.error >> text=请填写原因")
    page.fill("#move-user input[name=reason]", "支援A2团队")
    page.check("#move-user input[name=is_team_leader]")
    page.click("#move-user button[type=submit]")
    page.wait_for_selector("#confirm-dialog[open]")
    text = page.text_content("#confirm-text")
    assert "从「团队A1」调到「团队A2」" in text and "不再担任「团队A1」的团队长" in text
    page.click("#confirm-ok")  # A2 has a leader: the API refuses, in Chinese
    page.wait_for_selector("#message.error >> text=团队已有团队长")
    assert row.locator("td").nth(3).text_content() == "团队A1"
    page.uncheck("#move-user input[name=is_team_leader]")
    page.click("#move-user button[type=submit]")
    page.wait_for_selector("#confirm-dialog[open]")
    shot(page, "console-users-move-confirm")
    page.click("#confirm-ok")
    page.wait_for_selector("#message.info >> text=gp-a1 已调到团队A2")
    assert page.is_hidden("#move-card")
    cells = row.locator("td")
    assert [cells.nth(i).text_content() for i in (3, 4)] == ["团队A2", "家庭医生"]
    assert as_user("gp-a1").get("/api/v1/auth/me").get_json()["team_id"] == world.teams["A2"]
    shot(page, "console-users-moved")
