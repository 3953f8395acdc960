"""The demo page at `/` in a real browser: Debian's Chromium driven by Playwright
(its wheel bundles the driver; no browser is downloaded). Two people log in on
two pages, one sends, the other sees it arrive live and acknowledges it, and
the sender watches the delivery report fill — all through the page's own DOM.

The page's websocket sends the Origin of the URL it was loaded from, and the
server refuses origins it does not know (403 at the handshake). The port of the
server is known only once `serve()` has bound it, and `Settings` is frozen, so
the page server's `Services` gets a copy of the settings with that origin added
right after binding and before any browser connects: the live node reads
`svc.settings.allowed_origins` at each handshake."""

from __future__ import annotations

import re
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from uuid import UUID

import httpx
import pytest
from litestar import Litestar
from playwright.async_api import Browser, Page, async_playwright, expect

from core.api import Services, create_app
from core.clock import FixedClock
from core.config import Settings
from core.db import Database
from hub import live
from hub.module import HubModule
from hub.page import CONTENT_SECURITY_POLICY
from scheduling.module import SchedulingModule
from tests.conftest import login, replace, serve

Ids = dict[str, UUID]

CHROMIUM = Path("/usr/bin/chromium")
HAVE_CHROMIUM = CHROMIUM.exists()
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: How long an expectation waits for the DOM (Playwright polls; nothing sleeps).
EXPECT_TIMEOUT_MS = 15_000
#: Where the test leaves a picture of the sender's page (/tmp/reppu-page.png here).
SCREENSHOT = Path(tempfile.gettempdir()) / "reppu-page.png"


@pytest.fixture(scope="module")
async def page_app(
    db: Database, settings: Settings, clock: FixedClock, demo: object, family: Ids
) -> AsyncIterator[tuple[Litestar, str]]:
    """A server of the app whose allowed websocket origins include its own URL."""
    svc = Services(settings, db, clock)
    app = create_app(svc, modules=[HubModule(), SchedulingModule()])
    async with serve(app) as url:
        svc.settings = replace(settings, allowed_origins=(*settings.allowed_origins, url))
        yield app, url


@pytest.fixture(scope="module")
def page_url(page_app: tuple[Litestar, str]) -> str:
    return page_app[1]


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    if not HAVE_CHROMIUM:
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()


async def open_page(browser: Browser, url: str, problems: list[str]) -> Page:
    context = await browser.new_context(base_url=url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(EXPECT_TIMEOUT_MS)
    page = await context.new_page()
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on(
        "console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None
    )
    await page.goto("/")
    return page


async def log_in(page: Page, username: str) -> None:
    await page.get_by_label("Käyttäjätunnus").fill(username)
    await page.get_by_role("button", name="Kirjaudu", exact=True).click()
    await expect(page.locator("#live")).to_have_attribute("data-state", "online")


async def test_page_is_served_with_a_strict_policy(page_url: str) -> None:
    """`/` is public HTML with the Content-Security-Policy; its script and style are served."""
    async with httpx.AsyncClient(base_url=page_url) as c:
        r = await c.get("/")
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/html")
        assert r.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert '<script src="/static/app.js"' in r.text
        js = await c.get("/static/app.js")
        assert js.status_code == 200 and "javascript" in js.headers["content-type"]
        assert "innerHTML" not in js.text
        assert (await c.get("/static/app.css")).status_code == 200


async def test_send_arrives_live_is_acknowledged_and_the_report_fills(
    browser: Browser, page_url: str, family: Ids
) -> None:
    """The teacher sends from the form, the guardian's open page shows it live as text and
    acknowledges it, and the teacher's report shows it delivered, read and acknowledged."""
    tag = uuid.uuid4().hex[:8]
    async with httpx.AsyncClient(base_url=page_url) as c:
        earlier = f"Aiempi viesti {tag}"
        r = await c.post(
            "/v1/messages",
            json={
                "idempotency_key": f"page-{tag}",
                "audience": {"type": "learner_guardians", "learner": str(family["l2"])},
                "subject": earlier,
                "body": "Jo ennen kirjautumista.",
            },
            headers=await login(c, "t1@perhe"),
        )
        assert r.status_code == 201, r.text

    problems: list[str] = []
    guardian = await open_page(browser, page_url, problems)
    teacher = await open_page(browser, page_url, problems)
    try:
        # The demo tenants' logins are offered; the family tenant's are typed.
        await expect(guardian.locator("#dev-logins button.chip").first).to_be_visible()
        await log_in(guardian, "g2@perhe")
        await expect(guardian.locator("#who-name")).to_contain_text("Greta Naapuri")
        await expect(guardian.locator("#me-facts")).to_contain_text("Liisa Naapuri")
        await expect(guardian.locator("#send")).to_be_hidden()
        await expect(guardian.locator("#inbox-list .subject", has_text=earlier)).to_be_visible()

        await log_in(teacher, "t1@perhe")
        await expect(teacher.locator("#me-facts")).to_contain_text("7B")
        await expect(teacher.locator("#sent-list")).to_contain_text(earlier)
        subject = f"Retki perjantaina {tag}"
        body = "Ottakaa eväät mukaan. <b>x</b> & kiitos"
        await teacher.select_option("#send-group", str(family["7b"]))
        await teacher.select_option("#send-audience", "group_guardians")
        await teacher.select_option("#send-kind", "announcement")
        await teacher.get_by_label("Otsikko").fill(subject)
        await teacher.get_by_label("Viesti", exact=True).fill(body)
        await teacher.get_by_label("Vaatii kuittauksen").check()
        await teacher.get_by_role("button", name="Lähetä", exact=True).click()
        await expect(teacher.locator("#send-result")).to_contain_text("Lähetetty")
        await expect(teacher.locator("#report")).to_be_visible()

        # Live on the guardian's page, the body as text: no <b> element made from it.
        item = guardian.locator("#inbox-list > li").filter(
            has=guardian.locator(".subject", has_text=subject)
        )
        await expect(item.locator(".msg-body")).to_have_text(body)
        assert await item.locator(".msg-body").evaluate("e => e.textContent") == body
        assert await item.locator("b").count() == 0
        await expect(item).to_contain_text("Tiedote")
        await expect(item).to_contain_text("Liisa Naapuri")
        await item.get_by_role("button", name="Kuittaa").click()
        await expect(item).to_have_attribute("data-acked", "true")
        await expect(item).to_have_attribute("data-read", "true")
        async with httpx.AsyncClient(base_url=page_url) as c:
            counts = (await c.get("/v1/inbox/counts", headers=await login(c, "g2@perhe"))).json()
        await expect(guardian.locator("#count-ack")).to_have_text(str(counts["awaiting_ack"]))
        await expect(guardian.locator("#count-unread")).to_have_text(str(counts["unread"]))

        row = teacher.locator(f'#report-rows tr[data-person-id="{family["g2"]}"]')
        await expect(row.locator("th")).to_have_text("Greta Naapuri")
        for field in ("delivered", "read", "acked"):
            await expect(row.locator(f'td[data-field="{field}"]')).to_have_attribute(
                "data-done", "true"
            )
        await expect(teacher.locator("#report-totals")).to_contain_text("kuitattu 1")
        await expect(teacher.locator("#sent-list")).to_contain_text(subject)

        await teacher.screenshot(path=str(SCREENSHOT), full_page=True)
        await guardian.screenshot(path=str(SCREENSHOT.with_name("reppu-page-guardian.png")))
        assert problems == []
    finally:
        for page in (guardian, teacher):
            await page.context.close()


async def test_page_resumes_after_the_server_drops_its_socket(
    browser: Browser, page_app: tuple[Litestar, str], family: Ids
) -> None:
    """A socket closed with a resume code (4009) is reopened with a new ticket and the last
    seq: what was sent meanwhile appears once, and the live state is online again."""
    app, url = page_app
    problems: list[str] = []
    guardian = await open_page(browser, url, problems)
    try:
        await log_in(guardian, "g1@perhe")
        node: live.LiveNode = app.state["live"]
        g1 = family["g1"]
        for session in [s for s in node.sessions if s.person_id == g1]:
            await session.socket.close(live.CLOSE_SLOW_CONSUMER, "test: resume")
        await expect(guardian.locator("#live")).not_to_have_attribute("data-state", "online")
        subject = f"Sillä välin {uuid.uuid4().hex[:8]}"
        async with httpx.AsyncClient(base_url=url) as c:
            r = await c.post(
                "/v1/messages",
                json={
                    "idempotency_key": f"page-{subject}",
                    "audience": {"type": "learner_guardians", "learner": str(family["l1"])},
                    "subject": subject,
                    "body": "Tuli kun yhteys oli poikki.",
                },
                headers=await login(c, "t1@perhe"),
            )
            assert r.status_code == 201, r.text
        await expect(guardian.locator("#live")).to_have_attribute("data-state", "online")
        await expect(guardian.locator("#inbox-list .subject", has_text=subject)).to_have_count(1)
        seqs = await guardian.locator("#inbox-list > li").evaluate_all(
            "items => items.map(i => Number(i.dataset.seq))"
        )
        assert len(seqs) == len(set(seqs))
        assert problems == []
    finally:
        await guardian.context.close()


async def test_secretary_solves_a_timetable_and_watches_it_live(
    browser: Browser, page_url: str
) -> None:
    """The secretary makes a draft from the school's groups, starts a solve and
    watches its progress arrive live (signal frames) until it is solved."""
    problems: list[str] = []
    page = await open_page(browser, page_url, problems)
    try:
        await log_in(page, "sec@perhe")
        await expect(page.locator("#timetable")).to_be_visible()
        await page.get_by_role("button", name="Luonnos koulun ryhmistä").click()
        await expect(page.locator("#solve-draft")).to_have_value(re.compile("^[0-9a-f-]{36}$"))
        await page.get_by_label("Aikaraja (s)").fill("60")
        await page.get_by_role("button", name="Laske", exact=True).click()
        solved = page.locator('#solve-list li[data-state="solved"]')
        await expect(solved).to_be_visible(timeout=90_000)
        await expect(solved).to_contain_text("kovat 0")
        await expect(solved.get_by_role("button", name="Pysäytä")).to_be_hidden()
        assert problems == []
    finally:
        await page.context.close()
