"""The import page: choose a file, check it (a dry run, problems row by row), then import it with progress."""
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser
SAMPLE = Path(__file__).resolve().parents[2] / "server" / "imports" / "sample" / "residents-sample.csv"


@pytest.fixture(autouse=True)
def village(world, session):
    """The sample file also names village committee 101 (as in the demo center); center A gets one."""
    from server.org.models import Committee

    session.add(Committee(center_id=world.centers["A"], code="101", name="东沟村村委会", last_serial=0))
    session.commit()


@pytest.fixture
def import_page(open_as):
    page = open_as("staff-a", "/console/import")
    # The page's handlers are attached as soon as the sign-in check has named the user (no other wait comes
    # between them in importPage); networkidle would add half a second of quiet to every test.
    page.wait_for_selector("#who:not(:empty)")
    return page


def check(page, path):
    page.set_input_files("#upload input[name=file]", str(path))
    page.click("#check")
    # a locator wait: the page's CSP allows no eval, which wait_for_function needs
    page.locator("#report:not([hidden]), #message:not([hidden])").first.wait_for()


def test_sample_checked_then_imported_with_progress(import_page, tmp_path, as_user, shot):
    page = import_page
    check(page, SAMPLE)
    assert page.text_content("#report-title") == "检查通过（未写入任何数据）"
    assert page.text_content("#report-summary") == "共 11 行：4 户、11 名居民、8 条慢病登记；文件编码 UTF-8。可以导入。"
    assert page.locator("#problems").is_hidden() and page.is_enabled("#run")
    assert as_user("staff-a").get("/api/v1/residents?q=欧阳明").get_json()["total"] == 0  # nothing written
    shot(page, "console-import-checked")
    # The progress bar shows while the real run is on its way (a MutationObserver notes that it appeared).
    page.evaluate("""() => { window.sawProgress = false;
        new MutationObserver(() => { if (!document.getElementById('progress-box').hidden) window.sawProgress = true; })
          .observe(document.getElementById('progress-box'), { attributes: true }); }""")
    page.click("#run")
    page.wait_for_selector("#confirm-dialog[open]")
    assert "residents-sample.csv" in page.text_content("#confirm-text")
    page.click("#confirm-ok")
    page.wait_for_selector("#message.info >> text=已导入 4 户、11 名居民")
    assert page.evaluate("window.sawProgress") is True and page.locator("#progress-box").is_hidden()
    assert page.text_content("#report-title") == "导入完成" and not page.is_enabled("#run")
    assert as_user("staff-a").get("/api/v1/residents?q=欧阳明").get_json()["total"] == 1
    shot(page, "console-import-done")


def test_a_gbk_copy_is_read_as_gbk(import_page, tmp_path):
    gbk = tmp_path / "residents-gbk.csv"
    gbk.write_bytes(SAMPLE.read_text(encoding="utf-8").encode("gbk"))
    check(import_page, gbk)
    assert import_page.text_content("#report-summary") == "共 11 行：4 户、11 名居民、8 条慢病登记；文件编码 GB18030。可以导入。"


def test_an_empty_file_is_explained_and_cannot_be_run(import_page, tmp_path, shot):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    check(import_page, empty)
    assert "1 个问题" in import_page.text_content("#report-title")
    cells = import_page.locator("#problems tbody tr td")
    assert [cells.nth(i).text_content() for i in range(3)] == ["—", "文件", "文件中没有数据行"]
    assert not import_page.is_enabled("#run")
    shot(import_page, "console-import-empty")


def test_codes_outside_their_lists_are_named_row_by_row(import_page, tmp_path, shot):
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    lines[1] = lines[1].replace(",户主,", ",表哥,")  # relation: not in the list
    lines[4] = lines[4].replace("H0002,001,", "H0002,999,")  # committee: none such in the center
    lines[5] = lines[5].replace(",女,", ",不详,")  # sex: not in the list
    bad = tmp_path / "bad-codes.csv"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    check(import_page, bad)
    rows = import_page.locator("#problems tbody tr")
    got = [[rows.nth(i).locator("td").nth(j).text_content() for j in range(4)] for i in range(rows.count())]
    assert got == [["2", "与户主关系", "“表哥”不在代码表中", "表哥"],
                   ["5", "居委会/村", "本中心没有这个居委会/村", "999"],
                   ["6", "性别", "“不详”不在代码表中", "不详"]]
    assert not import_page.is_enabled("#run")
    shot(import_page, "console-import-bad-codes")


def test_no_file_chosen(import_page):
    import_page.click("#check")
    import_page.wait_for_selector("#message.error >> text=请先选择文件")


def test_a_damaged_xlsx_is_refused_in_chinese(import_page, tmp_path, shot):
    bad = tmp_path / "damaged.xlsx"
    bad.write_bytes(b"not a workbook")
    check(import_page, bad)
    assert import_page.text_content("#message").startswith("无法读取这个 XLSX 文件")
    assert import_page.locator("#report").is_hidden() and not import_page.is_enabled("#run")
    shot(import_page, "console-import-damaged-xlsx")
