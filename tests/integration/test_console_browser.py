"""The console in a real browser (Debian's Chromium, driven by Playwright) over the whole system
with the city simulator running: sign in, a breach appears on the board without a reload, the
case's timeline, a notice to a grid delivered, English, a ranking's CSV, a parked message
replayed.

Each page's screenshot is written to docs/console/ (the committed ones are the latest run's).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aio_pika
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from gridloop_chaos.system import OPERATOR_KEY, CitySystem, SystemOptions
from gridloop_common.testing.parking import park, road_damage_report
from gridloop_common.testing.secantus import free_port
from gridloop_simulator.config import SimulationConfig, Targets
from gridloop_simulator.simulation import Simulation

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "console"
VIEWER_KEY = "browser-test-viewer-key"
# An hour of city life a second: an order not accepted within 8 s of its dispatch breaches.
SPEED = 3600.0
GRID = "grd-xijin-001-01"
# Patient enough for a loaded CI machine; each wait ends as soon as its condition holds.
LIVE_TIMEOUT_MS = 90_000
expect.set_options(timeout=LIVE_TIMEOUT_MS)


@dataclass(frozen=True)
class City:
    system: CitySystem
    sink_port: int  # where the simulator plays the chat platform and the SMS gateway

    @property
    def console(self) -> str:
        return self.system.urls("console")[0]


@pytest.fixture(scope="module")
async def city(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[City]:
    config = SimulationConfig(speed=SPEED)
    sink_port = free_port()
    env = {
        **config.system_windows(),
        **Targets(sink_port=sink_port).sink_urls,
        "VIEWER_API_KEY": VIEWER_KEY,
    }
    work_dir = tmp_path_factory.mktemp("console-city")
    system = CitySystem(
        SystemOptions(work_dir=work_dir, replicas=1, env=env), say=lambda line: None
    )
    await asyncio.to_thread(system.start)
    try:
        yield City(system, sink_port)
    finally:
        await asyncio.to_thread(system.stop)


@pytest.fixture(scope="module")
async def simulation(city: City) -> AsyncIterator[Simulation]:
    # Slow and steady: a living city on the screen, not a load test.
    config = SimulationConfig(reports=240, rate=2.0, seed=15, speed=SPEED, broadcasts=0)
    running = Simulation(config, city.system.simulator_targets(city.sink_port))
    await running.start()
    reports = asyncio.create_task(running.run_reports())
    try:
        yield running
    finally:
        reports.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reports
        await running.stop()


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    assert shutil.which(CHROMIUM), "make test installs chromium (tools/browser.sh)"
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


async def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=False)


async def test_an_operator_watches_the_city_and_acts(
    city: City, simulation: Simulation, browser: Browser, tmp_path: Path
) -> None:
    console = city.console
    context = await browser.new_context(
        viewport={"width": 1366, "height": 768}, accept_downloads=True, locale="zh-CN"
    )
    page = await context.new_page()
    page.set_default_timeout(LIVE_TIMEOUT_MS)

    # A wrong key is told so, in words; the operator's key signs in.
    await page.goto(f"{console}/board")
    await expect(page).to_have_url(f"{console}/signin?next=/board")
    await page.fill("#key", "not-the-key")
    await page.click("button[type=submit]")
    await expect(page.locator("[data-error=wrong_key]")).to_be_visible()
    await shot(page, "signin")
    await page.fill("#key", OPERATOR_KEY)
    await page.click("button[type=submit]")
    await expect(page).to_have_url(f"{console}/board")
    await expect(page.locator("[data-role=operator]")).to_be_visible()

    # Orders arrive and a breach turns one red while the page stays loaded: a red row that was
    # not red when the page was drawn, on the same document (its marker survives).
    await page.evaluate(
        """window.__same_document = true;
        window.__red_at_load = [...document.querySelectorAll('tr[data-colour=red]')]
            .map(row => row.dataset.order);"""
    )
    await page.wait_for_function(
        """[...document.querySelectorAll('tr[data-colour=red]')]
            .some(row => !window.__red_at_load.includes(row.dataset.order))""",
        timeout=LIVE_TIMEOUT_MS,
    )
    assert await page.evaluate("window.__same_document === true")
    red = page.locator("tr[data-colour=red]").first
    await shot(page, "board")

    # From the board to the case: its report and timeline.
    await red.locator("a").click()
    await expect(page.locator("[data-kind=dispatched]").first).to_be_visible()
    await expect(page.locator(".report-text")).to_be_visible()
    await shot(page, "case")

    # An action the case's state forbids (a re-dispatch of an order nobody rejected): dispatch's
    # refusal in words, and the case as it was.
    case_url = page.url
    orders_before = await page.locator("tr[data-order]").count()
    refused = await page.request.post(
        f"{case_url}/actions/redispatch", form={"department": "water", "operator": "值班员"}
    )
    assert refused.status in (404, 409, 422), refused.status
    assert "data-upstream-error" in await refused.text()
    await page.reload()
    assert await page.locator("tr[data-order]").count() == orders_before  # no order made

    await page.goto(f"{console}/")
    await expect(page.locator("[data-figure=today-reported]")).not_to_have_text("0")
    await shot(page, "overview")
    await page.goto(f"{console}/cases")
    await expect(page.locator(".feed li").first).to_be_visible()
    await shot(page, "feed")
    await page.goto(f"{console}/map")
    await expect(page.locator("path[data-colour]").first).to_be_attached()
    await shot(page, "map")

    # A notice to one grid: its audience counted before sending, then delivered.
    await page.goto(f"{console}/notices")
    await page.select_option("#notice-level", "grid")
    await page.fill("#notice-ids", GRID)
    await expect(page.locator("[data-audience-groups]")).to_be_visible()
    await page.fill("input[name=title]", "停水通知")
    await page.fill("textarea[name=body]", "明天上午9点至12点西津大道停水检修,请提前储水。")
    await page.click("form.notice-form button[type=submit]")
    # notify took it for the audience the form counted, and the page follows it to the end.
    await expect(page.locator("#notice-progress")).to_have_attribute("data-status", "completed")
    recipients = await page.locator("[data-total=recipients]").inner_text()
    assert int(recipients.replace(",", "")) > 0
    await shot(page, "notice")

    # English, then a ranking and its CSV.
    await page.goto(f"{console}/rankings")
    await page.click("a.lang")
    await expect(page.locator("h1")).to_have_text("Rankings")
    await expect(page.locator("nav")).to_contain_text("SLA board")
    await shot(page, "rankings")
    async with page.expect_download() as download_info:
        await page.click("a.download")
    download = await download_info.value
    saved = tmp_path / download.suggested_filename
    await download.save_as(saved)
    header = saved.read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("rank,entity_id"), header

    # A report parked in dispatch's queue, as an outage past every retry leaves it: counted
    # by its reason on the page, and replayed from there.
    await park_a_report(city.system.rabbitmq_url)
    await page.goto(f"{console}/parked")
    reason = page.locator('.parked-summary tr[data-service="dispatch"] [data-reason="outage"]')
    await expect(reason).to_be_visible()
    await shot(page, "parked")
    await reason.locator("button").click()
    await expect(page.locator("[data-replayed]")).to_have_attribute("data-replayed", "1")
    await expect(page.locator('tr[data-service="dispatch"]')).to_have_attribute("data-waiting", "0")
    await context.close()


async def park_a_report(rabbitmq_url: str) -> None:
    _, parked = road_damage_report("路灯不亮(停电期间上报,未能派单)", GRID)
    connection = await aio_pika.connect(rabbitmq_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        await park(channel, "dispatch", parked, "outage: the database was away past every retry")


async def test_a_viewer_reads_but_cannot_send_and_a_refusal_is_shown_in_words(
    city: City, simulation: Simulation, browser: Browser
) -> None:
    console = city.console
    context = await browser.new_context(viewport={"width": 1366, "height": 768})
    page = await context.new_page()
    await page.goto(f"{console}/signin")
    await page.fill("#key", VIEWER_KEY)
    await page.click("button[type=submit]")
    await page.goto(f"{console}/notices")
    await expect(page.locator("form.notice-form")).to_have_count(0)
    # The viewer posting anyway (a crafted form) is refused by the console, nothing sent.
    answer = await page.request.post(
        f"{console}/notices",
        form={"level": "grid", "ids": GRID, "title": "x", "body": "y", "channels": "sms"},
    )
    assert answer.status == 403
    assert (await answer.json())["code"] == "read_only_key"
    await context.close()

    # The operator sending to an area the registry does not know: notify's refusal in words.
    context = await browser.new_context(viewport={"width": 1366, "height": 768})
    page = await context.new_page()
    await page.goto(f"{console}/signin")
    await page.fill("#key", OPERATOR_KEY)
    await page.click("button[type=submit]")
    await page.goto(f"{console}/notices")
    await page.select_option("#notice-level", "grid")
    await page.fill("#notice-ids", "grd-nowhere-999")
    await expect(page.locator("[data-audience=unknown]")).to_be_visible()
    await page.fill("input[name=title]", "测试")
    await page.fill("textarea[name=body]", "测试内容")
    await page.click("form.notice-form button[type=submit]")
    await expect(page.locator("[data-upstream-error=unknown_area]")).to_be_visible()
    await context.close()
