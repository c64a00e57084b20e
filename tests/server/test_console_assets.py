"""The console's static files: linked by the version of their content, kept by the browser under that address,
revalidated under any other (an old page's link, a hand-typed address)."""
import os
import re
import time

from server.console import routes

PAGES = ["/console/", "/console/login", "/console/devices", "/console/referrals", "/console/print/followup/x"]


def test_pages_link_each_file_by_its_version_and_that_address_is_kept(client):
    linked = set()
    for page in PAGES:
        html = client.get(page).get_data(as_text=True)
        files = re.findall(r'(?:src|href)="(/console/static/[^"]+)"', html)
        assert files, page
        linked.update(files)
    names = {re.match(r"/console/static/([^?]+)\?v=([0-9a-f]{16})$", url).group(1) for url in linked}
    assert {"console.js", "console.css", "devices.js", "referrals.js"} <= names, linked
    for url in linked:
        resp = client.get(url)
        assert resp.status_code == 200 and resp.headers["Cache-Control"] == f"public, max-age={routes.FOREVER}"
        bare = client.get(url.split("?")[0])
        assert bare.status_code == 200 and bare.headers["Cache-Control"] == "no-cache", url
        assert bare.data == resp.data
        old = client.get(url.split("?")[0] + "?v=0123456789abcdef")
        assert old.headers["Cache-Control"] == "no-cache", url
    for odd in ("/console/static/.?v=1", "/console/static/%2e?v=1", "/console/static/./?v=1"):
        assert client.get(odd).status_code == 404, odd


def test_the_version_follows_the_content(tmp_path, monkeypatch, clean_app):
    monkeypatch.setattr(routes.blp, "static_folder", str(tmp_path))
    (tmp_path / "a.js").write_text("one();")
    first = routes.asset_version("a.js")
    (tmp_path / "a.js").write_text("two(); // edited under a running server")  # another size
    second = routes.asset_version("a.js")
    assert first and second and first != second
    assert routes.asset_version("missing.js") is None and routes.asset_version("../a.js") is None
    assert routes.asset_version(".") is None  # the folder itself: no version, no digest of a directory
    before = os.stat(tmp_path / "a.js")
    time.sleep(0.02)  # past the kernel's timestamp tick
    (tmp_path / "a.js").write_text("TWO(); // edited under a running server")  # same size...
    os.utime(tmp_path / "a.js", ns=(before.st_atime_ns, before.st_mtime_ns))  # ...and time, as `cp -p` leaves
    third = routes.asset_version("a.js")
    assert third not in (None, second)
    with clean_app.test_request_context():
        from flask import url_for
        assert url_for("console.static", filename="a.js") == f"/console/static/a.js?v={third}"
        assert url_for("console.static", filename="missing.js") == "/console/static/missing.js"
