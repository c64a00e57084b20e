"""A live server on 127.0.0.1 and Debian's Chromium driven by Playwright; signing in; screenshots."""
import json
import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-gpu"]
SHOTS = Path(__file__).resolve().parents[1] / "_artifacts"
SHOT_COPIES = Path("/tmp/console-shots")  # a second copy, outside the tree, for looking at by hand


@pytest.fixture
def live(clean_app, world):
    server = make_server("127.0.0.1", 0, clean_app, threaded=True)
    # shutdown() waits for serve_forever's next look at its flag: at the default 0.5 s poll that was half a
    # second of every browser test's teardown.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="session")
def _chromium():
    """One Chromium for the run (starting it took ~2 s a test)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not shutil.which("chromium"):
        pytest.skip("Debian's chromium is not installed (scripts/system-deps.sh installs it)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def browser(_chromium):
    """The run's Chromium; the pages a test opens (each browser.new_page() is a context of its own: cookies
    and storage are not shared) are closed after it."""
    yield _chromium
    for context in _chromium.contexts:
        context.close()


@pytest.fixture
def sign_in(live):
    """sign_in(page, username[, password]): through the console's login form."""
    def go(page, username, password="correct-horse-1"):
        page.goto(f"{live}/console/login")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
    return go


@pytest.fixture
def open_as(browser, live, token):
    """open_as(username, path="/console/", **new_page_options) -> a new page signed in as that user, opened at
    path. The token goes where the login form puts it (the tab's sessionStorage), written by a one-line page
    the browser serves itself; so a test that is not about signing in skips the login page, its form, the
    password check and the landing page (~0.7 s a test). tests/console/test_console.py signs in through the
    form (sign_in)."""
    def go(username, path="/console/", listen=None, **options):
        """listen(page): called before the page opens (to hear its console messages and responses)."""
        options.setdefault("viewport", {"width": 1200, "height": 900})
        page = browser.new_page(**options)
        if listen:
            listen(page)
        seed = f"{live}/__signed-in-for-a-test"
        script = (f"<script>sessionStorage.setItem('token', {json.dumps(token(username))});"
                  f"location.replace({json.dumps(path)})</script>")
        page.route(seed, lambda route: route.fulfill(status=200, content_type="text/html", body=script))
        with page.expect_navigation(url=lambda url: url == f"{live}{path}"):
            page.goto(seed)
        return page
    return go


@pytest.fixture
def shot():
    """shot(page, name): a full-page screenshot into tests/_artifacts/ and a copy in /tmp/console-shots/."""
    def take(page, name):
        SHOTS.mkdir(exist_ok=True)
        path = SHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        SHOT_COPIES.mkdir(exist_ok=True)
        shutil.copy(path, SHOT_COPIES / path.name)
    return take
