"""Browser fixtures: Debian's Chromium driven by Playwright (never a downloaded browser), pages logged in
against pytest-django's live server, and the real scheduler process from the engine tests."""
import os
import shutil

import pytest

from tests.engine.conftest import runscheduler  # noqa: F401  (the real `manage.py runscheduler`)

# Playwright's sync API runs an event loop in this thread; Django would otherwise refuse DB access here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
PASSWORD = "e2e-password-1"


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM}: `make browser` installs Debian's package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser, live_server):
    """new_page(width=1280, height=900, locale="en-US") -> a Playwright page; closed at teardown."""
    contexts = []

    def make(width=1280, height=900, locale="en-US"):
        context = browser.new_context(viewport={"width": width, "height": height}, locale=locale,
                                      base_url=live_server.url)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def logged_in(new_page, live_server, transactional_db):
    """logged_in(role="admin", **page options) -> a page on the task list after logging in through the login
    form (which lands on the dashboard)."""
    from django.contrib.auth.models import Group, User

    def login(role="admin", **options):
        user = User.objects.create_user(f"e2e-{role}", password=PASSWORD, is_staff=role == "admin")
        user.groups.add(Group.objects.get_or_create(name=role)[0])  # a flush between tests removes them
        page = new_page(**options)
        page.goto("/login/")
        page.fill("input[name=username]", user.username)
        page.fill("input[name=password]", PASSWORD)
        page.click("#login-submit")
        page.wait_for_url(live_server.url + "/dashboard")
        page.goto("/")
        return page

    return login
