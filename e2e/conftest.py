"""Browser fixtures for the Playwright journeys: Debian's chromium (never a downloaded one),
one browser per session, a fresh context per simulated device, screenshots in
e2e/screenshots/ (gitignored)."""

import os
import re
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
DEFAULT_TIMEOUT_MS = 15_000


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} not found: install Debian's chromium package (make sysdeps)"
        if os.environ.get("CPE_REQUIRE_BROWSER") == "1":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def wait_for_idle_server(timeout: float = 30.0):
    """After the pages are closed, let the live server finish what they had already sent (a
    heartbeat, a play start) before the test database is flushed: otherwise that request's row
    locks and the flush's TRUNCATE can deadlock on PostgreSQL."""
    import time

    from django.db import connection

    if connection.vendor != "postgresql":
        return
    deadline = time.monotonic() + timeout
    quiet_since = None
    while time.monotonic() < deadline:
        with connection.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND state IN ('active', 'idle in transaction')"
            )
            busy = cur.fetchone()[0]
        now = time.monotonic()
        if busy:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = now
        # A closing page may still send one last report (a beacon on pagehide) that reaches the
        # server after a first idle reading: wait until the database has been idle for a while.
        elif now - quiet_since >= 0.5:
            return
        time.sleep(0.1)


@pytest.fixture
def new_page(browser, live_server, request):
    """Open a page in a new browser context (a separate device: own cookies) whose relative
    URLs resolve against the live server. On failure every open page is screenshotted."""
    contexts = []

    def _new_page(width: int, height: int):
        context = browser.new_context(
            base_url=live_server.url,
            locale="zh-CN",
            timezone_id="Asia/Shanghai",
            viewport={"width": width, "height": height},
        )
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield _new_page
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    for i, context in enumerate(contexts, 1):
        if failed:
            for j, page in enumerate(context.pages, 1):
                try:
                    shot(page, f"FAILED-{request.node.name}-ctx{i}-{j}")
                except Exception:  # a crashed page must not hide the real failure
                    pass
        context.close()
    wait_for_idle_server()


@pytest.fixture
def screenshot():
    """screenshot(page, "name") writes e2e/screenshots/name.png (the full page)."""
    return shot


def shot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / (re.sub(r"[^\w.-]", "_", name) + ".png")
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def demo_accounts(transactional_db):
    """The staff accounts (operator, admin, ...; demo passwords), the demo learner and
    agreement v1.0, made by the real demo seeding."""
    from cpe.backoffice.demo import demo_seed

    return demo_seed()


@pytest.fixture
def agreement_v1(demo_accounts):
    """Override the root fixture: demo_seed has already published v1.0, so the root
    `register_learner` fixture registers against that version."""
    from cpe.agreements.models import AgreementVersion

    return AgreementVersion.objects.get(version="1.0")


# --- phones with a phone's user agent (added for the buying journeys) ---------------------------
IPHONE_SAFARI_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)


@pytest.fixture
def new_phone_page(browser, live_server, request):
    """Like `new_page`, but the context is a phone: iPhone Safari user agent (the server picks
    phone-only features such as the payment channels from it), touch, mobile viewport.
    new_phone_page(375, 812) opens a page in a new context; on failure every page is
    screenshotted as FAILED-<test>-phone<i>-<j>.png."""
    contexts = []

    def _new_phone_page(width: int = 375, height: int = 812):
        context = browser.new_context(
            base_url=live_server.url,
            locale="zh-CN",
            timezone_id="Asia/Shanghai",
            viewport={"width": width, "height": height},
            user_agent=IPHONE_SAFARI_UA,
            is_mobile=True,
            has_touch=True,
        )
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield _new_phone_page
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    for i, context in enumerate(contexts, 1):
        if failed:
            for j, page in enumerate(context.pages, 1):
                try:
                    shot(page, f"FAILED-{request.node.name}-phone{i}-{j}")
                except Exception:  # a crashed page must not hide the real failure
                    pass
        context.close()
    wait_for_idle_server()


@pytest.fixture(scope="session")
def _e2e_ais_sim(tmp_path_factory):
    """The AIS simulator as `make run` starts it (demo persons seeded), for every journey."""
    from cpe.reporting.tests.simulator import start_simulator, stop_simulator

    sim = start_simulator(tmp_path_factory.mktemp("e2e_ais_sim"), "--seed", "demo")
    yield sim
    stop_simulator(sim)


@pytest.fixture(autouse=True)
def _e2e_ais(settings, _e2e_ais_sim):
    from cpe.reporting.tests.simulator import TEST_PROVIDER, TEST_SECRET

    settings.AIS_BASE_URL = _e2e_ais_sim.url
    settings.AIS_PROVIDER_CODE, settings.AIS_SECRET = TEST_PROVIDER, TEST_SECRET
    settings.AIS_BACKOFF_BASE, settings.AIS_BACKOFF_CAP = 0.01, 0.05
    _e2e_ais_sim.admin("POST", "/_sim/reset", {"keep_persons": True})
