"""A live server on 127.0.0.1 and Debian's Chromium driven by Playwright; signing in; screenshots."""
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
    thread = threading.Thread(target=server.serve_forever, daemon=True)
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
def shot():
    """shot(page, name): a full-page screenshot into tests/_artifacts/ and a copy in /tmp/console-shots/."""
    def take(page, name):
        SHOTS.mkdir(exist_ok=True)
        path = SHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        SHOT_COPIES.mkdir(exist_ok=True)
        shutil.copy(path, SHOT_COPIES / path.name)
    return take
