"""The ban page on a 375-px phone, in Debian's chromium (rules R12; conventions C5)."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
CHROMIUM = Path("/usr/bin/chromium")
SHOT = Path("/tmp/ban-375.png")


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")
def test_ban_page_fits_a_phone(server_with_ban_middleware, staff_with):
    from playwright.sync_api import sync_playwright

    from cpe.moderation import services

    services.ban_network(
        network="127.0.0.1",
        reason="短时间内大量尝试登录他人账号，系统已自动限制。",
        ends_at=timezone.now() + timedelta(days=3),
        actor=staff_with(),
    )
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_context(viewport={"width": 375, "height": 740}, locale="zh-CN").new_page()
            response = page.goto(server_with_ban_middleware + "/courses/")
            assert response.status == 403
            assert page.get_by_role("heading", name="访问受限").is_visible()
            assert page.get_by_role("link", name="通知公告").first.is_visible()
            # nothing wider than the phone: no sideways scrolling
            assert page.evaluate("document.documentElement.scrollWidth") <= 375
            page.screenshot(path=str(SHOT), full_page=True)
        finally:
            browser.close()
