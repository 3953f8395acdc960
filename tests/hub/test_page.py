"""The demo page at `/` in a real browser: Debian's Chromium driven by Playwright
(its wheel bundles the driver; no browser is downloaded). Two people log in on
two pages, one sends, the other sees it arrive live and acknowledges it, and
the sender watches the delivery report fill — all through the page's own DOM.

The page's websocket sends the Origin of the URL it was loaded from, and the
server refuses origins it does not know (403 at the handshake). The port of the
server is known only once `serve()` has bound it, and `Settings` is frozen, so
the page server's `Services` gets a copy of the settings with that origin added
right after binding and before any browser connects: the live node reads
`svc.settings.allowed_origins` at each handshake.

The timetable tests use the `lukkari` school (tests/scheduling/daily_school.py),
shared by the session: each works on a date no other test changes, and undoes
its changes at the end. Every HTTP call goes to the page's own server: its
broker is the one that carries the notices to the pages' sockets."""

from __future__ import annotations

import asyncio
import json
import re
import tempfile
import uuid
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from litestar import Litestar
from playwright.async_api import Browser, Page, Route, WebSocket, async_playwright, expect

from core.api import Services, create_app
from core.clock import FixedClock
from core.config import Settings
from core.db import Database
from hub import live
from hub.module import HubModule
from hub.page import CONTENT_SECURITY_POLICY
from scheduling.module import SchedulingModule
from scheduling.notices import WEEKDAY_NAMES
from tests.conftest import login, replace, serve
from tests.scheduling import daily_school

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
#: A Wednesday no other test changes: t2's history of 8A, 9.15–10.00, gets a substitute.
SUBSTITUTION_DAY = date(2026, 12, 2)
#: A Wednesday no other test changes: 7A's maths, 8.15–9.00, is cancelled and restored.
WITHDRAWN_DAY = date(2026, 12, 9)


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


async def open_page(browser: Browser, url: str, problems: list[str], path: str = "/") -> Page:
    context = await browser.new_context(base_url=url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(EXPECT_TIMEOUT_MS)
    page = await context.new_page()
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on(
        "console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None
    )
    await page.goto(path)
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


async def test_a_school_with_no_possible_timetable_is_told_why(
    browser: Browser, page_url: str, tmp_path: Path
) -> None:
    """A FET file whose class has more lessons than hours in its week: the
    solve ends at once as infeasible, and the panel says which class and
    the counts (not "incomplete" after the whole time limit)."""
    from tests.scheduling import tiny_fet

    fet = tmp_path / "liian-täysi.fet"
    fet.write_text(tiny_fet.school(classes=1, hours=2, days=("ma", "ti")), encoding="utf-8")
    problems: list[str] = []
    page = await open_page(browser, page_url, problems)
    ended = asyncio.Event()

    def watch(ws: WebSocket) -> None:
        def frame(payload: str | bytes) -> None:
            if '"infeasible"' in (payload if isinstance(payload, str) else payload.decode()):
                ended.set()

        ws.on("framereceived", frame)

    # the answer to the POST ("queued") is held until the solve's live end has
    # arrived: the order a quick solve can take, which must not undo the end
    async def late(route: Route) -> None:
        answer = await route.fetch()
        await asyncio.wait_for(ended.wait(), 60)
        await route.fulfill(response=answer)

    page.on("websocket", watch)
    await page.route("**/v1/timetable/drafts/*/solves", late)
    try:
        await log_in(page, "sec@perhe")
        await expect(page.locator("#timetable")).to_be_visible()
        await page.locator("#draft-file").set_input_files(str(fet))
        await page.get_by_role("button", name="Tuo", exact=True).click()
        await expect(page.locator("#solve-draft")).to_have_value(re.compile("^[0-9a-f-]{36}$"))
        await page.get_by_label("Aikaraja (s)").fill("600")
        await page.get_by_role("button", name="Laske", exact=True).click()
        refused = page.locator('#solve-list li[data-state="infeasible"]')
        await expect(refused).to_be_visible(timeout=60_000)
        await expect(refused).to_contain_text("7A has 13 hours of lessons and room for 4")
        await expect(refused.get_by_role("button", name="Pysäytä")).to_be_hidden()
        assert problems == []
    finally:
        await page.context.close()


# ---- the timetable: the week, substitutes, withdrawn notices (tenant `lukkari`) -------------


def notice_head(on: date) -> str:
    """How a timetable notice's subject starts (scheduling.notices.render)."""
    return f"{WEEKDAY_NAMES[on.weekday()]} {on.day}.{on.month}."


async def lukkari(c: httpx.AsyncClient, who: str) -> dict[str, str]:
    return await login(c, f"{who}@{daily_school.TENANT}")


async def lesson_on(c: httpx.AsyncClient, school: Ids, on: date, subject: str) -> str:
    """The id of the day's (only) lesson of `subject`, as the secretary sees the day."""
    r = await c.get(
        "/v1/timetable/day",
        params={"school_id": str(school["k1"]), "date": on.isoformat()},
        headers=await lukkari(c, "sec"),
    )
    assert r.status_code == 200, r.text
    [lesson] = [x for x in r.json() if x["subject"] == subject]
    lesson_id: str = lesson["lesson_id"]
    return lesson_id


async def cancel(c: httpx.AsyncClient, school: Ids, on: date, lesson_id: str) -> str:
    """The secretary cancels the lesson on `on`; returns the change's id."""
    r = await c.post(
        "/v1/timetable/changes",
        json={
            "school_id": str(school["k1"]),
            "changes": [{"date": on.isoformat(), "kind": "cancel", "lesson_id": lesson_id}],
        },
        headers=await lukkari(c, "sec"),
    )
    assert r.status_code == 201, r.text
    change_id: str = r.json()["changes"][0]["id"]
    return change_id


async def undo(c: httpx.AsyncClient, change_id: str) -> dict[str, int]:
    """Undo a change; returns what its date's notices did."""
    r = await c.post(f"/v1/timetable/changes/{change_id}/undo", headers=await lukkari(c, "sec"))
    assert r.status_code == 200, r.text
    [notices] = r.json()["notices"].values()
    return dict(notices)


async def undo_all(url: str, school: Ids, on: date) -> None:
    """Undo the changes of `on` still in force: the school is the session's."""
    async with httpx.AsyncClient(base_url=url) as c:
        r = await c.get(
            "/v1/timetable/changes",
            params={"school_id": str(school["k1"]), "date": on.isoformat()},
            headers=await lukkari(c, "sec"),
        )
        assert r.status_code == 200, r.text
        for change in r.json():
            if not change["undone"]:
                await undo(c, change["id"])


async def unread(c: httpx.AsyncClient, who: str) -> int:
    r = await c.get("/v1/inbox/counts", headers=await lukkari(c, who))
    assert r.status_code == 200, r.text
    count: int = r.json()["unread"]
    return count


async def test_secretary_confirms_a_substitute_and_the_class_sees_it_live(
    browser: Browser, page_url: str, school: Ids
) -> None:
    """The secretary marks t2 absent for Wednesday 2.12. and confirms the first proposed
    substitute on her page: l5 (8A), whose page shows that week, gets exactly one notice
    live and sees the lesson substituted in the timetable, and so does l5's guardian g5 in
    Linnea's section; l1 (7A) gets nothing."""
    on = SUBSTITUTION_DAY
    head = notice_head(on)
    problems: list[str] = []
    # The secretary's page is opened on a Sunday: she is offered the next Monday.
    secretary = await open_page(browser, page_url, problems, "/?date=2026-12-06")
    learner = await open_page(browser, page_url, problems, f"/?date={on}")
    guardian = await open_page(browser, page_url, problems, f"/?date={on}")
    other = await open_page(browser, page_url, problems)
    try:
        await log_in(learner, "l5@lukkari")
        await expect(learner.locator("#week-range")).to_have_text("Viikko 49: 30.11.–4.12.2026")
        lesson = learner.locator(f'#week .lesson[data-date="{on}"]', has_text="historia")
        await expect(lesson).to_have_attribute("data-status", "normal")
        await expect(lesson).to_contain_text("9.15–10.00")
        await expect(lesson).to_contain_text("8A · A102 · Timo Kakkonen")

        await log_in(guardian, "g5@lukkari")
        child = guardian.locator(f'#week .week-of[data-learner-id="{school["l5"]}"]')
        await expect(child.locator("h3")).to_have_text("Linnea")
        linnea = child.locator(f'.lesson[data-date="{on}"]', has_text="historia")
        await expect(linnea).to_have_attribute("data-status", "normal")

        # Without ?date= the week is the server clock's (Tuesday 24.11.2026).
        await log_in(other, "l1@lukkari")
        await expect(other.locator("#week")).to_have_attribute("data-monday", "2026-11-23")
        await expect(other.locator('#week .day[data-date="2026-11-24"]')).to_contain_text("ruotsi")
        await other.get_by_role("button", name="Seuraava viikko").click()
        await expect(other.locator("#week")).to_have_attribute("data-monday", "2026-11-30")
        await expect(other.locator(f'#week .day[data-date="{on}"]')).to_contain_text("matematiikka")

        await log_in(secretary, "sec@lukkari")
        await expect(secretary.locator("#week")).to_be_hidden()  # she has no lessons
        await expect(secretary.locator("#subs")).to_be_visible()
        await expect(secretary.locator("#absence-school-field")).to_be_hidden()  # one school
        await expect(secretary.get_by_label("Päivä")).to_have_value("2026-12-07")
        await secretary.get_by_label("Päivä").fill(on.isoformat())
        await secretary.select_option("#absence-teacher", str(school["t2"]))
        await secretary.get_by_role("button", name="Merkitse poissaolevaksi").click()
        await expect(secretary.locator("#absence-title")).to_have_text(
            "Timo Kakkonen poissa ke 2.12.2026"
        )
        absent = secretary.locator("#absence-lessons > li")
        await expect(absent).to_have_count(1)
        await expect(absent).to_contain_text("ke 2.12. 9.15–10.00 historia, 8A")
        first = absent.locator(".proposals > li").first
        substitute = await first.locator(".name").inner_text()
        assert substitute in ("Tapio Nelonen", "Terhi Kolmonen", "Tuula Ykkönen")
        await first.get_by_role("button", name="Vahvista").click()
        await expect(absent).to_have_attribute("data-covered", "true")
        await expect(absent.locator(".covered")).to_have_text(f"Sijaisena {substitute}")
        await expect(absent.locator(".proposals")).to_have_count(0)
        # 8A's three learners, two guardians by rule (tests/scheduling), t2 and the substitute
        await expect(secretary.locator("#absence-result")).to_contain_text(
            "Ilmoitus lähti 7 henkilölle"
        )

        notice = learner.locator("#inbox-list .subject", has_text=head)
        await expect(notice).to_have_count(1)
        await expect(notice).to_contain_text(f"historia 9.15–10.00: sijaisena {substitute}")
        await expect(lesson).to_have_attribute("data-status", "substituted")
        await expect(lesson.locator(".flag")).to_have_text("sijainen")
        await expect(lesson.locator(".detail")).to_have_text(f"8A · A102 · {substitute}")
        await expect(lesson.locator(".was")).to_have_text(
            "alun perin 9.15–10.00, A102, Timo Kakkonen"
        )

        g5_notice = guardian.locator("#inbox-list .subject", has_text=head)
        await expect(g5_notice).to_have_count(1)
        await expect(g5_notice).to_contain_text(
            f"Linnea: historia 9.15–10.00: sijaisena {substitute}"
        )
        await expect(linnea).to_have_attribute("data-status", "substituted")

        async with httpx.AsyncClient(base_url=page_url) as c:
            r = await c.get("/v1/inbox?limit=500", headers=await lukkari(c, "l1"))
        assert [i for i in r.json()["items"] if i["message"]["subject"].startswith(head)] == []
        await expect(other.locator("#inbox-list .subject", has_text=head)).to_have_count(0)
        await expect(other.locator(f'#week .lesson[data-date="{on}"]')).to_have_attribute(
            "data-status", "normal"
        )
        await learner.screenshot(path=str(SCREENSHOT.with_name("reppu-page-timetable.png")))
        await secretary.screenshot(
            path=str(SCREENSHOT.with_name("reppu-page-substitutes.png")), full_page=True
        )
        assert problems == []
    finally:
        for page in (secretary, learner, guardian, other):
            await page.context.close()
        await undo_all(page_url, school, on)


async def test_a_withdrawn_notice_leaves_the_page_live(
    browser: Browser, page_app: tuple[Litestar, str], school: Ids
) -> None:
    """7A's maths on Wednesday 9.12. is cancelled over HTTP while l3's page is open: the
    notice arrives and the timetable shows it cancelled; undone, the notice leaves the inbox
    live, the counts follow and the lesson is back. Done again while the page's socket is
    down, the replayed notice, already withdrawn, is never shown."""
    app, url = page_app
    on = WITHDRAWN_DAY
    head = notice_head(on)
    problems: list[str] = []
    release = asyncio.Event()  # lets the held ticket request go
    page = await open_page(browser, url, problems, f"/?date={on}")
    try:
        await log_in(page, "l3@lukkari")
        lesson = page.locator(f'#week .lesson[data-date="{on}"]', has_text="matematiikka")
        await expect(lesson).to_have_attribute("data-status", "normal")
        notice = page.locator("#inbox-list .subject", has_text=head)
        count = page.locator("#count-unread")
        async with httpx.AsyncClient(base_url=url) as c:
            before = await unread(c, "l3")
            await expect(count).to_have_text(str(before))
            maths = await lesson_on(c, school, on, "matematiikka")
            change_id = await cancel(c, school, on, maths)
            await expect(notice).to_have_text(f"{head}: matematiikka 8.15–9.00 peruttu")
            await expect(count).to_have_text(str(before + 1))
            await expect(lesson).to_have_attribute("data-status", "cancelled")
            await expect(lesson.locator(".flag")).to_have_text("peruttu")

            assert (await undo(c, change_id))["withdrawn"] >= 1
            await expect(notice).to_have_count(0)
            await expect(count).to_have_text(str(before))
            await expect(lesson).to_have_attribute("data-status", "normal")

            # The socket drops, and the page's next ticket is held until the change is
            # made and undone: both come to the page as a replay, which is recorded.
            async def hold(route: Route) -> None:
                await release.wait()
                await route.continue_()

            frames: list[dict[str, Any]] = []

            def record(ws: WebSocket) -> None:
                ws.on("framereceived", lambda payload: frames.append(json.loads(payload)))

            await page.route("**/v1/live/ticket", hold)
            page.on("websocket", record)
            node: live.LiveNode = app.state["live"]
            for session in [s for s in node.sessions if s.person_id == school["l3"]]:
                await session.socket.close(live.CLOSE_SLOW_CONSUMER, "test: replay")
            await expect(page.locator("#live")).not_to_have_attribute("data-state", "online")
            assert (await undo(c, await cancel(c, school, on, maths)))["withdrawn"] >= 1
            release.set()
            await expect(page.locator("#live")).to_have_attribute("data-state", "online")
            await page.unroute("**/v1/live/ticket", hold)
            # the notice came again, with its state: withdrawn (it is not shown)
            replayed = [
                f
                for f in frames
                if f["type"] == "message" and f["message"]["subject"].startswith(head)
            ]
            assert [f["state"]["withdrawn_at"] is not None for f in replayed] == [True]
            await expect(notice).to_have_count(0)
            await expect(count).to_have_text(str(before))
            assert await unread(c, "l3") == before
            await expect(lesson).to_have_attribute("data-status", "normal")
        assert problems == []
    finally:
        release.set()
        await page.context.close()
        await undo_all(url, school, on)
