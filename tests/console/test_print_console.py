"""Print previews in the console: from a household's lab report or visit, the receipt as it will print (58/80
mm, the printer's Chinese font or a picture) and the ESC/POS bytes to download."""
import base64
import io

import pytest
from PIL import Image

import printing

pytestmark = pytest.mark.browser
HL7 = "x-application/hl7-v2+er7"
VISIT_ID = "6a1f0e1c-0000-4000-8000-00000000a001"


@pytest.fixture
def records(world, as_user, client):
    """张三 (household A1路1号) with a glucose report from the hospital's feed and a signed hypertension visit."""
    admin = as_user("admin")
    rid = world.residents["A1-0-0"]
    person = admin.get(f"/api/v1/residents/{rid}").get_json()
    r = admin.post("/api/v1/labs/feeds", json={"hospital_id": world.hospital_id, "name": "市一医院 LIS",
                                               "center_ids": [world.centers["A"]]})
    assert r.status_code == 201, r.get_json()
    born = person["birth_date"].replace("-", "")
    oru = "\r".join([
        "MSH|^~\\&|LIS|HOSP_T|GPO|CLINIC|20250302110000||ORU^R01^ORU_R01|P-1|P|2.5.1|||||CHN|UNICODE UTF-8",
        f"PID|1||{person['id_number']}^^^^ID||张三||{born}|M",
        "OBR|1||F-P-1|GLU^血糖^L|||20250302070000|||||||||||||||20250302105500|||F",
        "OBX|1|NM|GLU^血糖^L||5.1|mmol/L|3.9-6.1|N|||F"]) + "\r"
    r = client.post("/api/v1/labs/hl7", data=oru.encode(), content_type=HL7,
                    headers={"X-Lab-Feed-Key": r.get_json()["key"]})
    assert r.status_code == 200, r.data
    reports = admin.get(f"/api/v1/residents/{rid}/lab-reports").get_json()["items"]
    assert len(reports) == 1, "the report was not filed under 张三"
    assert admin.post(f"/api/v1/residents/{rid}/conditions", json={"condition": "hypertension"}).status_code == 201
    r = admin.post("/api/v1/followups", json={
        "id": VISIT_ID, "resident_id": rid, "condition": "hypertension",
        "form": {"visit_date": "2026-01-05", "visit_mode": 1, "symptoms": [1], "sbp": 152, "dbp": 96,
                 "medication_adherence": 1, "adverse_reaction": 1, "doctor": "李医生"}})
    assert r.status_code == 201, r.get_json()
    return {"report": reports[0]["id"], "visit": VISIT_ID}


def _shown_png(page) -> Image.Image:
    src = page.get_attribute("#p-preview", "src")
    assert src.startswith("data:image/png;base64,")
    return Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1])))


def _preview(page, width, mode):
    page.wait_for_selector(f"#p-preview[data-width='{width}'][data-mode='{mode}']:not([aria-busy])")
    return _shown_png(page)


def test_lab_report_preview_in_both_widths_and_modes_and_the_bytes_download(open_as, live, records, as_user,
                                                                               shot, tmp_path):
    page = open_as("staff-a", "/console/households")
    page.click("#households a >> text=A1路1号")
    page.click(f"#reports tr[data-id='{records['report']}'] >> text=打印预览")
    assert _preview(page, "58", "chinese").width == printing.PaperWidth.MM58.dots
    assert "张三" in page.text_content("#p-subject") and "血糖" in page.text_content("#p-subject")
    assert page.get_attribute("#p-preview", "alt") == "检验报告单预览（58 毫米，打印机中文字库）"
    api = as_user("staff-a")
    receipt = f"/api/v1/lab-reports/{records['report']}/receipt"
    png = api.get(f"{receipt}?width=58&mode=chinese&format=png").data
    assert _shown_png(page).tobytes() == Image.open(io.BytesIO(png)).tobytes()  # the server's preview, unchanged
    page.check("input[name=width][value='80']")
    assert _preview(page, "80", "chinese").width == printing.PaperWidth.MM80.dots
    page.check("input[name=mode][value=raster]")
    _preview(page, "80", "raster")
    shot(page, "console-print-lab-report-80mm")
    with page.expect_download() as info:
        page.click("#p-download")
    download = info.value
    assert download.suggested_filename == "lab-report-80mm-raster.bin"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert saved.read_bytes() == api.get(f"{receipt}?width=80&mode=raster").data
    page.wait_for_selector("#message.info")
    assert f"{saved.stat().st_size} 字节" in page.text_content("#message")


def test_follow_up_slip_preview_from_the_household_page(open_as, records, shot):
    page = open_as("staff-a", "/console/households", viewport={"width": 1200, "height": 1000})
    page.click("#households a >> text=A1路1号")
    page.click(f"#visits tr[data-id='{records['visit']}'] >> text=打印预览")
    assert _preview(page, "58", "chinese").width == printing.PaperWidth.MM58.dots
    assert page.text_content("#p-subject") == "高血压随访 · 2026-01-05"
    assert page.title().startswith("打印预览 · 随访单")
    shot(page, "console-print-followup-58mm")
    page.click("#back")
    page.wait_for_selector("#h-address:text('A1路1号')")


def test_a_record_out_of_scope_says_so_and_unknown_kinds_are_404(open_as, records, client):
    # center B: 张三 of center A is not in scope
    page = open_as("staff-b", f"/console/print/lab-report/{records['report']}")
    page.wait_for_selector("#message.error")
    assert page.is_hidden("#p-figure")
    assert client.get("/console/print/prescription/1").status_code == 404
