"""Debian's Chromium driven by Playwright against the live server (tests/conftest.py); signing in; screenshots.

Speed: one browser context for the run (a new one was ~130 ms a page), and tabs wiped after a test and kept
for later ones (_Tabs). What the tabs of one run share (the HTTP cache, kept-alive connections, the downloads
folder) carries nothing of an earlier test's: the console keeps its token in the tab's sessionStorage, sets no
cookie, the API answers no-store, and the cached files are the console's own scripts and styles."""
import os
import shutil
from pathlib import Path

import pytest

# Debian's build of Chromium's headless shell: the same engine without the desktop browser around it, and the
# binary Playwright itself runs headless pages in. The console tests took 49 s with the whole `chromium` and
# 33 s with the shell, one after the other on this machine; the whole browser is the fallback.
CHROMIUM = shutil.which("chromium-headless-shell") or shutil.which("chromium")
ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-gpu"]
SHOTS = Path(__file__).resolve().parents[1] / "_artifacts"
SHOT_COPIES = Path("/tmp/console-shots")  # a second copy, outside the tree, for looking at by hand


@pytest.fixture(scope="session")
def _chromium():
    """One Chromium for the run (starting it took ~2 s a test)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM:
        pytest.skip("Debian's chromium-headless-shell is not installed (scripts/system-deps.sh installs it)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


class _Tabs:
    """What a test calls `browser`: new_page(viewport=...) gives a tab of the run's context; after the test, a
    tab is wiped and kept for a later test's new_page.

    A new tab cost ~55 ms more of Chromium's CPU than a wiped one (a renderer process and the tab's set-up;
    measured with a bare page loading console.js, 30 loads each way). Wiping a tab: its routes are removed,
    then it opens a blank page of the live server's origin (answered by Playwright, not the server), which
    ends the test's page (its scripts and any request still in flight, such as a sign-in that would store a
    token) and clears that origin's sessionStorage, the only state the console keeps in a tab. The tab is
    kept only when that page really is on the origin with nothing stored (after a failed navigation a tab
    shows Chromium's error page, whose storage is not the origin's); otherwise, and when a test attached
    listeners to it (open_as's `listen`), it is closed. What a kept tab still has: its history (a test that
    goes back past its own first page reaches the wipe page, then an earlier test's pages)."""

    VIEWPORT = {"width": 1200, "height": 900}

    def __init__(self, context, idle, origin):
        self.context = context
        self.idle = idle  # wiped tabs of the run
        self.origin = origin  # the live server's
        self.pages = []
        self.listened = set()

    def new_page(self, viewport=None):
        """Downloads are always accepted (the run's context is made so)."""
        page = self.idle.pop() if self.idle else self.context.new_page()
        if page.viewport_size != (viewport or self.VIEWPORT):
            page.set_viewport_size(viewport or self.VIEWPORT)
        self.pages.append(page)
        return page

    def listen(self, page, listen):
        self.listened.add(id(page))
        listen(page)

    def wipe(self, page) -> bool:
        """Open the blank page of the origin that clears its sessionStorage; True when the tab is then on the
        origin with nothing stored. Routes are removed before and after (a route left on a tab makes every
        request stop in Playwright and turns the tab's cache off)."""
        from playwright.sync_api import Error as PlaywrightError

        wipe = f"{self.origin}/__wiped-after-a-test"
        try:
            page.unroute_all(behavior="ignoreErrors")
            page.route(wipe, lambda route: route.fulfill(
                status=200, content_type="text/html", body="<script>sessionStorage.clear()</script>"))
            page.goto(wipe)
            page.unroute_all(behavior="ignoreErrors")
            return page.evaluate("[location.origin, sessionStorage.length]") == [self.origin, 0]
        except PlaywrightError:
            return False  # a tab that cannot be wiped is not kept

    def done(self):
        for page in self.pages:
            if page.is_closed():
                continue
            if id(page) not in self.listened and self.wipe(page):
                self.idle.append(page)
            else:
                page.close()


@pytest.fixture(scope="session")
def _context(_chromium):
    context = _chromium.new_context(viewport=_Tabs.VIEWPORT, accept_downloads=True)
    yield context
    context.close()


@pytest.fixture(scope="session")
def _idle_tabs(_context):
    return []


@pytest.fixture
def browser(_context, _idle_tabs, live):
    """The test's tabs; after `live` in set-up, so they are wiped (their pages ended) before its app is taken
    down."""
    tabs = _Tabs(_context, _idle_tabs, live)
    yield tabs
    tabs.done()


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
    """open_as(username, path="/console/", viewport=None) -> a new page (1200x900 unless asked) signed in as
    that user, opened at path. The token goes where the login form puts it (the tab's sessionStorage), set
    on a page of the live server's origin (a kept tab is on one already: its wipe page); so a test that is
    not about signing in skips the login page, its form, the password check and the landing page (~0.7 s a
    test). tests/console/test_console.py signs in through the form (sign_in)."""
    def go(username, path="/console/", listen=None, viewport=None):
        """listen(page): called before the page opens (to hear its console messages and responses)."""
        page = browser.new_page(viewport)
        if listen:
            browser.listen(page, listen)
        if not page.url.startswith(f"{live}/"):  # a new tab: first on a page of the origin, as a kept one is
            assert browser.wipe(page), "a new tab could not open a page of the live server's origin"
        page.evaluate("token => sessionStorage.setItem('token', token)", token(username))
        page.goto(f"{live}{path}")
        return page
    return go


@pytest.fixture
def shot():
    """shot(page, name): with CONSOLE_SHOTS=1 in the environment (`CONSOLE_SHOTS=1 make test`), a full-page
    screenshot into tests/_artifacts/ and a copy in /tmp/console-shots/, for looking at the pages by hand.
    Otherwise nothing: no test reads them back, and the ~40 of a run cost Chromium ~5 s of CPU (a full-page
    capture was ~115 ms of Chromium's CPU on a page of console.js's size)."""
    if os.environ.get("CONSOLE_SHOTS") != "1":
        return lambda page, name: None

    def take(page, name):
        SHOTS.mkdir(exist_ok=True)
        path = SHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        SHOT_COPIES.mkdir(exist_ok=True)
        shutil.copy(path, SHOT_COPIES / path.name)
    return take
