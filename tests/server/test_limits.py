"""Limits and headers (issue 15, findings 4, 5 and 9): body size per endpoint kind answered 413, JSON depth,
long numbers, NUL and lone surrogates, 64-bit integers answered 422 naming the field, security headers on
every response, no-store on the API, TRACE answered 405 with Allow, console pages without inline script."""
import io
import re

import pytest

from server import limits


def assert_error(resp, code):
    body = resp.get_json()
    assert resp.status_code == code and body["code"] == code and body["status"] and body["message"], body
    return body


def post_json(client_as, path, raw: str):
    return client_as.post(path, data=raw.encode("utf-8", "surrogatepass"), content_type="application/json")


@pytest.fixture
def gp(as_user):
    return as_user("gp-a1")


def test_bodies_beyond_their_kind_are_413_before_they_are_read(clean_app, gp, as_user, world):
    clean_app.config.update(MAX_JSON_BYTES=10_000, MAX_IMPORT_BYTES=20_000, MAX_LAB_MESSAGE_BYTES=30_000)
    big = '{"committee_id": 1, "address": "' + "x" * 10_000 + '"}'
    body = assert_error(post_json(gp, "/api/v1/households", big), 413)
    assert "10000 bytes" in body["message"]
    upload = {"file": (io.BytesIO(b"a,b\n" * 6_000), "big.csv")}
    assert_error(as_user("staff-a").post("/api/v1/imports/residents", data=upload,
                                         content_type="multipart/form-data"), 413)
    r = gp.post("/api/v1/labs/hl7", data=b"MSH|" + b"x" * 30_000, content_type="x-application/hl7-v2+er7")
    assert_error(r, 413)
    # each kind keeps its own limit: an upload of 15 kB is over the JSON limit but not the import limit
    upload = {"file": (io.BytesIO(b"a,b\n" * 3_750), "ok.csv")}
    r = as_user("staff-a").post("/api/v1/imports/residents", data=upload, content_type="multipart/form-data")
    assert r.status_code != 413


def test_a_chunked_body_is_cut_off_at_the_limit(clean_app, gp, world):
    clean_app.config["MAX_JSON_BYTES"] = 10_000
    raw = ('{"committee_id": 1, "address": "' + "x" * 50_000 + '"}').encode()
    r = gp.post("/api/v1/households", input_stream=io.BytesIO(raw), content_type="application/json",
                headers={"Transfer-Encoding": "chunked"}, environ_overrides={"wsgi.input_terminated": True})
    assert_error(r, 413)


def _chinese_413(resp, field="body"):
    body = assert_error(resp, 413)
    assert "超过" in body["message"], body
    assert list(body["errors"]) == [field] and "超过" in body["errors"][field][0], body
    return body


ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}


def test_every_body_limit_answers_413_in_chinese_for_a_chinese_reader(clean_app, gp, as_user, world):
    clean_app.config.update(MAX_JSON_BYTES=10_000, MAX_IMPORT_BYTES=20_000, MAX_LAB_MESSAGE_BYTES=30_000)
    staff = as_user("staff-a")
    big = '{"committee_id": 1, "address": "' + "x" * 10_000 + '"}'
    # on Content-Length, before anything is read
    _chinese_413(gp.post("/api/v1/households", data=big.encode(), content_type="application/json", headers=ZH))
    _chinese_413(staff.post("/api/v1/imports/residents", headers=ZH, content_type="multipart/form-data",
                            data={"file": (io.BytesIO(b"a,b\n" * 6_000), "big.csv")}))
    _chinese_413(gp.post("/api/v1/labs/hl7", data=b"MSH|" + b"x" * 30_000, headers=ZH,
                         content_type="x-application/hl7-v2+er7"))
    # chunked: a JSON body cut off while read, and a multipart body cut off by werkzeug's form parser
    _chinese_413(gp.post("/api/v1/households", input_stream=io.BytesIO(big.encode() * 2), headers={
        **ZH, "Transfer-Encoding": "chunked"}, content_type="application/json",
        environ_overrides={"wsgi.input_terminated": True}))
    envelope = (b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.csv\"\r\n\r\n"
                + b"a,b\n" * 6_000 + b"\r\n--b--\r\n")
    _chinese_413(staff.post("/api/v1/imports/residents", input_stream=io.BytesIO(envelope), headers={
        **ZH, "Transfer-Encoding": "chunked"}, content_type="multipart/form-data; boundary=b",
        environ_overrides={"wsgi.input_terminated": True}))
    # the import's own file limit (the file within a body the body limit lets through)
    clean_app.config["MAX_IMPORT_BYTES"] = 60 * 1024 * 1024
    from server.imports import routes
    routes_max, routes.MAX_BYTES = routes.MAX_BYTES, 10_000
    try:
        _chinese_413(staff.post("/api/v1/imports/residents", headers=ZH, content_type="multipart/form-data",
                                data={"file": (io.BytesIO(b"a,b\n" * 6_000), "big.csv")}), "file")
    finally:
        routes.MAX_BYTES = routes_max
    # English stays the default, in the same shape
    body = assert_error(gp.post("/api/v1/households", data=big.encode(), content_type="application/json"), 413)
    assert body["errors"] == {"body": ["larger than 10000 bytes"]}


@pytest.mark.parametrize("raw, field", [
    ('{"committee_id": 1, "address": "a\\u0000b"}', "address"),       # NUL: PostgreSQL cannot store it
    ('{"committee_id": 1, "address": "a\\ud800b"}', "address"),       # a lone surrogate
    ('{"committee_id": 1, "address": "ab", "phone": "1\\udc00"}', "phone"),
    ('{"committee_id": ' + "9" * 5001 + ', "address": "ab"}', "committee_id"),  # 5,001 digits
    ('{"committee_id": 1.' + "5" * 400 + ', "address": "ab"}', "committee_id"),
    ('{"committee_id": 99999999999999999999, "address": "ab"}', "committee_id"),  # beyond 64 bits
    ('{"committee_id": NaN, "address": "ab"}', "_body"),
    ('{"committee_id": 1, "address": "ab", "x": ' + "[" * 1000 + "]" * 1000 + "}", "_body"),
    ('{"committee_id": 1, "address": "ab", "x": ' + "[" * 40 + "]" * 40 + "}", "x." + ".".join(["0"] * 31)),
])
def test_json_the_api_cannot_take_is_422_naming_the_field(gp, world, raw, field):
    body = assert_error(post_json(gp, "/api/v1/households", raw), 422)
    assert list(body["errors"]["json"]) == [field], body
    assert field in body["message"]


@pytest.mark.parametrize("raw, en, zh", [
    (b'{"committee_id": 1, "address": ', "Expecting value at line 1 column 32.", "第 1 行第 32 列不是有效的 JSON。"),
    (b"{'committee_id': 1}", "Expecting property name enclosed in double quotes at line 1 column 2.",
     "第 1 行第 2 列不是有效的 JSON。"),
    (b"", "Expecting value at line 1 column 1.", "第 1 行第 1 列不是有效的 JSON。"),
    (b'{"committee_id": 1, "address": "\xe5\xbc"}', "not UTF-8 text at byte 33.", "第 33 字节起不是 UTF-8 文字。"),
    # a raw surrogate (json.loads took it; "某路" and one was a 500: neither database driver stores it) and
    # UTF-16 (past the byte checks)
    (b'{"committee_id": 1, "address": "\xe6\x9f\x90\xe8\xb7\xaf\xed\xa0\x80"}', "not UTF-8 text at byte 39.",
     "第 39 字节起不是 UTF-8 文字。"),
    ('{"committee_id": 1, "address": "a\\u0000"}'.encode("utf-16"), "not UTF-8 text at byte 1.",
     "第 1 字节起不是 UTF-8 文字。"),
])
def test_a_body_that_is_not_json_is_400_saying_where_in_english_and_chinese(gp, world, session, raw, en, zh):
    from sqlalchemy import func, select

    from server.households.models import Household

    before = session.scalar(select(func.count()).select_from(Household))
    r = gp.post("/api/v1/households", data=raw, content_type="application/json")
    body = assert_error(r, 400)
    assert body["errors"] == {"json": [en]} and body["message"].startswith("The body is not")
    r = gp.post("/api/v1/households", data=raw, content_type="application/json",
                headers={"Accept-Language": "zh"})
    body = assert_error(r, 400)
    assert body["errors"] == {"json": [zh]} and body["message"] in ("请求体不是有效的 JSON。", "请求体不是 UTF-8 文字。")
    assert set(body) == {"code", "status", "message", "errors"}
    assert session.scalar(select(func.count()).select_from(Household)) == before


def test_utf8_with_a_byte_order_mark_is_still_taken(gp, world):
    raw = b"\xef\xbb\xbf" + ('{"committee_id": %d, "address": "某路1号"}' % world.committees["A1"]).encode()
    r = gp.post("/api/v1/households", data=raw, content_type="application/json")
    assert r.status_code == 201, r.get_json()


def test_a_nul_in_search_text_and_huge_integers_in_queries_are_422(gp, as_user, world):
    body = assert_error(gp.get("/api/v1/residents?q=%E5%BC%A0%00"), 422)
    assert body["errors"] == {"query": {"q": ["text with a NUL character"]}}
    body = assert_error(gp.get("/api/v1/households?page=" + "9" * 30), 422)
    assert "page" in body["errors"]["query"]
    staff = as_user("staff-a")
    for path in ("/api/v1/households", "/api/v1/users/", "/api/v1/assignments/history"):
        body = assert_error(staff.get(f"{path}?page=9223372036854775807"), 422)  # the offset would overflow
        assert "page" in body["errors"]["query"]
    body = assert_error(gp.get("/api/v1/households?committee_id=" + "9" * 25), 422)
    assert "committee_id" in body["errors"]["query"]
    assert gp.get("/api/v1/residents?q=%E5%BC%A0").status_code == 200  # ordinary text still searches


def test_every_response_carries_the_security_headers(client, gp, world):
    for resp in (client.get("/console/"), client.get("/console/static/console.js"), gp.get("/api/v1/auth/me"),
                 client.get("/api/v1/auth/me"), client.get("/nowhere")):
        csp = resp.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self';" in csp and "unsafe" not in csp
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Referrer-Policy"] == "no-referrer"
    # every API answer (health data, tokens, errors) is kept by no cache; the console's files may be
    for resp in (gp.get("/api/v1/households"), gp.get(f"/api/v1/residents/{world.residents['A1-0-0']}"),
                 client.post("/api/v1/auth/login", json={"username": "gp-a1", "password": "correct-horse-1"}),
                 client.get("/api/v1/households")):
        assert resp.headers["Cache-Control"] == "no-store", resp.request.path
    assert "no-store" not in client.get("/console/static/console.js").headers.get("Cache-Control", "")


def test_trace_is_405_with_allow(client, world):
    r = client.open("/api/v1/households", method="TRACE")
    body = assert_error(r, 405)
    assert set(r.headers["Allow"].split(", ")) >= {"GET", "POST"}, body
    assert "TRACE" not in r.headers["Allow"]


@pytest.mark.parametrize("page", ["/console/", "/console/households", "/console/labs", "/console/login"])
def test_console_pages_have_no_inline_script_or_style(client, page):
    html = client.get(page).get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline <script>"
    assert not re.search(r"<style\b|\sstyle=|\son[a-z]+=", html), "inline style or handler"


def test_the_strict_parser_takes_ordinary_json_unchanged():
    raw = '{"a": [1, -2, 3.5, true, null, "张三 😀"], "b": {"c": 9223372036854775807}}'
    assert limits.loads_strict(raw) == {"a": [1, -2, 3.5, True, None, "张三 😀"], "b": {"c": 2 ** 63 - 1}}


@pytest.mark.parametrize("method, url, kwargs, field", [
    ("get", "/api/v1/households?committee_id=2147483648", {}, ("query", "committee_id")),
    ("post", "/api/v1/households", {"json": {"committee_id": 2147483648, "address": "x"}}, ("json", "committee_id")),
    ("post", "/api/v1/assignments/", {"json": {"household_ids": [1, 2147483648], "team_id": 1, "reason": "x"}},
     ("json", "household_ids.1")),
])
def test_an_id_beyond_32_bits_is_refused_on_both_databases(as_user, world, method, url, kwargs, field):
    """Ids are INTEGER columns: PostgreSQL failed the comparison (a 500 the contract run found), SQLite found
    nothing. Now 422 naming the field, on both."""
    r = getattr(as_user("admin"), method)(url, **kwargs)
    assert r.status_code == 422, r.get_json()
    assert r.get_json()["errors"] == {field[0]: {field[1]: ["an id beyond 32 bits: no such record"]}}


@pytest.mark.parametrize("url", ["/api/v1/teams/2147483648", "/api/v1/teams/9223372036854775807"])
def test_a_path_id_beyond_32_bits_is_no_record(as_user, world, url):
    assert as_user("admin").get(url).status_code == 404
