"""The indicators dashboard: per team for a period, per quarter as a chart, the XLSX export downloaded."""
import io
import uuid

import pytest

pytestmark = pytest.mark.browser
FORM = {"visit_mode": 1, "symptoms": [1], "medication_adherence": 1, "adverse_reaction": 1, "doctor": "李医生"}


@pytest.fixture
def visits(world, as_user):
    """Hypertension patients in A1 (two, one controlled) and A2 (one, uncontrolled), seen in Q1 and Q2 2026."""
    admin = as_user("admin")
    plan = [("A1-0-0", "2026-01-05", 128, 82), ("A1-0-1", "2026-02-03", 150, 95), ("A2-0-0", "2026-01-10", 160, 100),
            ("A1-0-0", "2026-04-06", 126, 80)]
    for key in {k for k, *_ in plan}:
        r = admin.post(f"/api/v1/residents/{world.residents[key]}/conditions",
                       json={"condition": "hypertension", "diagnosed_on": "2020-01-01"})
        assert r.status_code == 201, r.get_json()
    for key, day, sbp, dbp in plan:
        r = admin.post("/api/v1/followups", json={"id": str(uuid.uuid4()), "resident_id": world.residents[key],
                                                  "condition": "hypertension",
                                                  "form": {**FORM, "visit_date": day, "sbp": sbp, "dbp": dbp}})
        assert r.status_code == 201, r.get_json()


def test_staff_see_indicators_per_team_and_quarter_and_download_xlsx(open_as, visits, as_user, shot):
    page = open_as("staff-a", "/console/indicators")
    page.wait_for_selector("#indicator-rows tbody tr")
    page.fill("#period input[name=year]", "2026")
    page.select_option("#period select[name=quarter]", "1")
    page.click("#period button[type=submit]")
    page.wait_for_selector("#period-text >> text=2026-01-01 至 2026-03-31")
    api = as_user("staff-a").get("/api/v1/followups/indicators?year=2026&quarter=1&condition=hypertension").get_json()
    rows = page.locator("#indicator-rows tbody tr")
    shown = [[rows.nth(i).locator("td").nth(j).text_content() for j in (1, 2, 6)] for i in range(rows.count())]
    assert shown == [[r["name"], str(r["under_management"]), str(r["visits"])] for r in api["rows"]]
    a1 = next(r for r in api["rows"] if r["name"] == "团队A1")
    assert (a1["under_management"], a1["visits"]) == (2, 2)
    # The team chart: one group per row, three bars each; the quarter chart: four quarters, a bar per team.
    assert page.locator("#team-chart svg rect[fill]").count() == 3 * len(api["rows"]) + 3
    assert page.locator("#quarter-chart svg text.label").all_text_contents() == ["第1季度", "第2季度", "第3季度", "第4季度"]
    assert page.locator("#quarter-chart svg text.legend").all_text_contents() == ["团队A1", "团队A2"]
    shot(page, "console-indicators")
    with page.expect_download() as got:
        page.click("#export")
    download = got.value
    assert download.suggested_filename == "followup-indicators-2026-Q1.xlsx"
    from openpyxl import load_workbook
    sheet = load_workbook(io.BytesIO(open(download.path(), "rb").read())).active
    assert any("团队A1" in str(c.value) for r in sheet.iter_rows() for c in r)


def test_a_bad_year_is_refused_with_the_field_named(open_as, visits):
    page = open_as("staff-a", "/console/indicators")
    page.wait_for_selector("#indicator-rows tbody tr")
    page.evaluate("document.querySelector('#period input[name=year]').value = '1999'")
    page.evaluate("document.getElementById('period').requestSubmit = null")
    page.locator("#period").evaluate("f => f.dispatchEvent(new Event('submit', {cancelable: true}))")
    page.wait_for_selector("#message.error")
    assert "年份" in page.text_content("#message")
