"""The operator console in a real browser: Debian's chromium, headless, driven by selenium
through its chromedriver, against a real daemon on loopback with tokens on.

Screenshots of each page go to $SESSIOND_CONSOLE_SCREENSHOTS when set (docs/console/ holds
the committed ones), else to the test's temporary folder.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pytest
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.service import Service as DriverService
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait
from sessiond_client import FailedPrecondition, RetryPolicy, SessionClient, pb

from sessiond.server import Service
from tests.e2e.conftest import StartServer

READER = "reader-token-0123456789abcdef"
WRITER = "writer-token-0123456789abcdef"
T = TypeVar("T")


def _binary(*names: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(f"{' or '.join(names)} is not installed: scripts/test installs chromium and chromium-driver from apt")


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = _binary("chromium", "chromium-browser")
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900"):
        options.add_argument(flag)
    # An explicit driver path: selenium then never tries to download one.
    driver = webdriver.Chrome(options=options, service=DriverService(executable_path=_binary("chromedriver")))
    yield driver
    driver.quit()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("SESSIOND_CONSOLE_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
async def console(start_server: StartServer, tmp_path: Path) -> AsyncIterator[Service]:
    tokens = tmp_path / "tokens.json"
    tokens.write_text(
        json.dumps(
            {
                "tokens": [
                    {"name": "dashboard", "token": READER, "scopes": ["read"]},
                    {"name": "operator", "token": WRITER, "scopes": ["read", "write"]},
                ]
            }
        )
    )
    tokens.chmod(0o600)
    yield await start_server(auth_tokens_file=str(tokens), console_listen="127.0.0.1:0")


def url(service: Service, path: str = "/") -> str:
    assert service.console_listener is not None
    return service.console_listener.url.rstrip("/") + path


async def in_browser(fn: Callable[[], T]) -> T:
    """Run a blocking selenium step off the loop, so the server keeps serving meanwhile."""
    return await asyncio.to_thread(fn)


def wait(driver: WebDriver, condition: Callable[[WebDriver], Any], timeout: float = 15.0) -> Any:
    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(condition)


def text_of(driver: WebDriver, element_id: str) -> str:
    return str(driver.find_element(By.ID, element_id).text)


def sign_in(driver: WebDriver, token: str) -> None:
    wait(driver, lambda d: d.find_elements(By.ID, "signin-token"))
    field = driver.find_element(By.ID, "signin-token")
    field.clear()
    field.send_keys(token)
    driver.find_element(By.ID, "signin-submit").click()


def http(service: Service, path: str, body: bytes | None = None, token: str = "") -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url(service, path), data=body, method="POST" if body is not None else "GET")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status), json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


async def test_without_a_token_only_the_sign_in_page_answers(console: Service, browser: WebDriver, shots: Path) -> None:
    status, answer = await asyncio.to_thread(http, console, "/api/sessiond.v1.SessionService/ListSessions", b"{}")
    assert (status, answer["code"]) == (401, "UNAUTHENTICATED")
    status, answer = await asyncio.to_thread(http, console, "/api/whoami", None, "not-a-token-we-know")
    assert (status, answer["code"], answer["message"]) == (401, "UNAUTHENTICATED", "unknown bearer token")

    def refused() -> str:
        browser.get(url(console))
        browser.execute_script("sessionStorage.clear()")
        browser.refresh()
        sign_in(browser, "not-a-token-we-know")
        wait(browser, lambda d: d.find_element(By.ID, "notice").is_displayed())
        browser.save_screenshot(str(shots / "sign-in.png"))
        return text_of(browser, "notice")

    assert await in_browser(refused) == "UNAUTHENTICATED: unknown bearer token"


async def test_a_vote_happens_live_on_the_page(console: Service, browser: WebDriver, shots: Path) -> None:
    def create() -> str:
        browser.get(url(console))
        browser.execute_script("sessionStorage.clear()")
        browser.refresh()
        sign_in(browser, WRITER)
        wait(browser, lambda d: "signed in as operator" in text_of(d, "who"))
        browser.find_element(By.ID, "nav-create").click()
        wait(browser, lambda d: d.find_elements(By.ID, "create-form"))
        form = browser.find_element(By.ID, "create-form")
        form.find_element(By.NAME, "session_id").send_keys("vote-1")
        form.find_element(By.NAME, "title").send_keys("The Cave")
        form.find_element(By.NAME, "options").send_keys("left, right, up")
        seconds = form.find_element(By.NAME, "window_seconds")
        seconds.clear()
        seconds.send_keys("6")
        form.find_element(By.NAME, "early_close").click()  # off: the window runs to its deadline
        Select(form.find_element(By.NAME, "tie_break")).select_by_visible_text("FIRST_CHOSEN")
        Select(form.find_element(By.NAME, "persistence")).select_by_visible_text("EPHEMERAL")
        browser.save_screenshot(str(shots / "create.png"))
        browser.find_element(By.ID, "create-submit").click()
        wait(browser, lambda d: text_of(d, "s-title") == "The Cave")
        # A marker that only survives while the page is never reloaded: checked after each live change.
        browser.execute_script("window.sameDocument = 'vote-1'")
        icon = browser.find_element(By.CSS_SELECTOR, "#s-persistence .persist").get_attribute("data-persistence")
        return text_of(browser, "s-status"), icon, text_of(browser, "s-persistence")

    status, icon, persistence = await in_browser(create)
    assert status == "ACTIVE" and icon == "EPHEMERAL" and "ephemeral (memory)" in persistence

    async with SessionClient(f"127.0.0.1:{console.port}", token=WRITER, retry=RetryPolicy(max_attempts=1)) as c:
        for player in ("ann", "bob", "cid"):
            await c.join_session("vote-1", player, display_name=player.title())
        await c.submit_choice("vote-1", "ann", "left")

        def countdown_moves() -> tuple[float, float]:
            wait(browser, lambda d: d.find_element(By.ID, "window-open").is_displayed())
            bar = browser.find_element(By.ID, "countdown-bar")
            first = float(bar.value_of_css_property("width").removesuffix("px"))
            wait(browser, lambda d: float(bar.value_of_css_property("width").removesuffix("px")) < first - 5)
            return first, float(bar.value_of_css_property("width").removesuffix("px"))

        first, later = await in_browser(countdown_moves)
        assert later < first
        await c.submit_choice("vote-1", "bob", "right")
        await c.submit_choice("vote-1", "cid", "left")

        def chosen() -> tuple[str, str]:
            wait(browser, lambda d: text_of(d, "chosen-count") == "3")
            browser.save_screenshot(str(shots / "session-countdown.png"))
            return text_of(browser, "chosen-count"), text_of(browser, "chosen-who")

        count, who = await in_browser(chosen)
        assert count == "3" and set(who.split(", ")) == {"ann", "bob", "cid"}
        assert "left" not in who and "right" not in who  # who has chosen, not what

        def resolved() -> tuple[str, dict[str, str]]:
            wait(browser, lambda d: d.find_element(By.ID, "last-turn").is_displayed(), timeout=20)
            browser.save_screenshot(str(shots / "session-resolved.png"))
            rows = browser.find_elements(By.CSS_SELECTOR, "#lt-tally .tally-row")
            votes = {r.get_attribute("data-option"): r.get_attribute("data-votes") for r in rows}
            return text_of(browser, "lt-winner"), votes

        winner, tally = await in_browser(resolved)
        assert winner == "left"
        assert tally == {"left": "2", "right": "1"}
        assert await in_browser(lambda: browser.execute_script("return window.sameDocument")) == "vote-1"

        def pause() -> str:
            browser.find_element(By.ID, "act-pause").click()
            wait(browser, lambda d: text_of(d, "s-status") == "PAUSED")
            return text_of(browser, "notice")

        assert await in_browser(pause) == "PauseSession: done"
        with pytest.raises(FailedPrecondition) as refused:
            await c.submit_choice("vote-1", "ann", "up")
        assert refused.value.status == grpc.StatusCode.FAILED_PRECONDITION

        def pause_again() -> str:
            browser.find_element(By.ID, "act-pause").click()
            wait(browser, lambda d: "FAILED_PRECONDITION" in text_of(d, "notice"))
            return text_of(browser, "notice")

        assert (await in_browser(pause_again)).startswith("FAILED_PRECONDITION: ")

        def reset_state() -> str:
            browser.find_element(By.ID, "act-reset").click()
            alert = wait(browser, lambda d: _alert(d))
            alert.accept()
            wait(browser, lambda d: text_of(d, "notice") == "ResetSessionState: done")
            return text_of(browser, "s-state")

        assert json.loads(await in_browser(reset_state)) == {}

        def resume() -> str:
            browser.find_element(By.ID, "act-resume").click()
            wait(browser, lambda d: text_of(d, "s-status") == "ACTIVE")
            return text_of(browser, "notice")

        assert await in_browser(resume) == "ResumeSession: done"
        assert (await c.submit_choice("vote-1", "ann", "up")).choice_count == 1  # the API sees it resumed

        def end() -> str:
            browser.find_element(By.ID, "act-end").click()
            wait(browser, lambda d: _alert(d)).accept()
            wait(browser, lambda d: text_of(d, "s-status") == "ENDED")
            return text_of(browser, "notice")

        assert await in_browser(end) == "EndSession: done"
        assert (await c.get_session("vote-1")).state == pb.Session.ENDED
        assert await in_browser(lambda: browser.execute_script("return window.sameDocument")) == "vote-1"


async def test_the_create_form_shows_a_refused_persistence_with_its_message(
    console: Service, browser: WebDriver
) -> None:
    def create_durable() -> str:
        browser.get(url(console, "/#/create"))
        browser.execute_script("sessionStorage.clear()")
        browser.refresh()
        sign_in(browser, WRITER)
        wait(browser, lambda d: d.find_elements(By.ID, "create-form"))
        form = browser.find_element(By.ID, "create-form")
        form.find_element(By.NAME, "session_id").send_keys("durable-1")
        form.find_element(By.NAME, "title").send_keys("Kept forever")
        Select(form.find_element(By.NAME, "persistence")).select_by_visible_text("DURABLE")
        browser.find_element(By.ID, "create-submit").click()
        wait(browser, lambda d: d.find_element(By.ID, "notice").is_displayed())
        return text_of(browser, "notice")

    message = await in_browser(create_durable)
    assert message.startswith("INVALID_ARGUMENT: settings.persistence: DURABLE needs a store with a graph")
    assert "this server's store is memory" in message
    async with SessionClient(f"127.0.0.1:{console.port}", token=WRITER) as c:
        assert (await c.list_sessions()).total_size == 0  # nothing was created


async def test_the_sessions_page_filters_and_pages(console: Service, browser: WebDriver, shots: Path) -> None:
    async with SessionClient(f"127.0.0.1:{console.port}", token=WRITER) as c:
        for i in range(27):
            await c.create_session(session_id=f"list-{i:02}", title=f"Table {i}", game_id=f"game-{i % 3}")
        for i in (1, 4):
            await c.pause_session(f"list-{i:02}")

    def rows() -> list[str]:
        found = browser.find_elements(By.CSS_SELECTOR, "#sessions-table tbody tr")
        return [r.get_attribute("data-session-id") for r in found]

    def filtered(**terms: str) -> tuple[list[str], str]:
        form = browser.find_element(By.ID, "filters")
        for name in ("channel_id", "game_id", "player_id"):
            form.find_element(By.NAME, name).clear()
        for name, value in terms.items():
            field = form.find_element(By.NAME, name)
            if field.tag_name == "select":
                Select(field).select_by_visible_text(value)
            else:
                field.send_keys(value)
        for name in ("state", "persistence"):
            if name not in terms:
                Select(form.find_element(By.NAME, name)).select_by_value("")
        before = text_of(browser, "sessions-total")
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait(browser, lambda d: text_of(d, "sessions-total") not in ("", before))
        return rows(), text_of(browser, "sessions-total")

    def browse() -> dict[str, Any]:
        browser.get(url(console, "/#/sessions"))
        browser.execute_script("sessionStorage.clear()")
        browser.refresh()
        sign_in(browser, READER)
        wait(browser, lambda d: len(rows()) == 25)
        icons = browser.find_elements(By.CSS_SELECTOR, "#sessions-table .persist")
        seen: dict[str, Any] = {"first": rows(), "icons": {e.get_attribute("data-persistence") for e in icons}}
        browser.save_screenshot(str(shots / "sessions.png"))
        browser.find_element(By.ID, "sessions-more").click()
        wait(browser, lambda d: len(rows()) == 27)
        seen["all"] = rows()
        seen["more_hidden"] = not browser.find_element(By.ID, "sessions-more").is_displayed()
        seen["paused"] = filtered(state="PAUSED")
        seen["game"] = filtered(game_id="game-1", state="ACTIVE")
        seen["ephemeral"] = filtered(persistence="EPHEMERAL")
        seen["durable"] = filtered(persistence="DURABLE")
        seen["notice"] = browser.find_element(By.ID, "notice").is_displayed()
        return seen

    seen = await in_browser(browse)
    assert seen["first"] == [f"list-{i:02}" for i in range(26, 1, -1)]  # newest first, 25 a page
    assert seen["icons"] == {"EPHEMERAL"}  # a memory store keeps only ephemeral sessions
    assert seen["all"] == [f"list-{i:02}" for i in range(26, -1, -1)] and seen["more_hidden"]
    assert seen["paused"] == (["list-04", "list-01"], "2 session(s)")
    assert seen["game"] == ([f"list-{i:02}" for i in (25, 22, 19, 16, 13, 10, 7)], "7 session(s)")  # 4 is paused
    assert seen["ephemeral"][1] == "27 session(s)" and seen["durable"] == ([], "0 session(s)")
    assert not seen["notice"]  # no filter was refused


async def test_a_read_token_views_but_cannot_act(console: Service, browser: WebDriver) -> None:
    async with SessionClient(f"127.0.0.1:{console.port}", token=WRITER) as c:
        await c.create_session(session_id="ro-1", title="Read only")

    def try_pause() -> tuple[str, str]:
        browser.get(url(console))
        browser.execute_script("sessionStorage.clear()")
        browser.refresh()
        sign_in(browser, READER)
        wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#sessions-table tr[data-session-id='ro-1']"))
        browser.find_element(By.CSS_SELECTOR, "#sessions-table tr[data-session-id='ro-1']").click()
        wait(browser, lambda d: text_of(d, "s-title") == "Read only")
        browser.find_element(By.ID, "act-pause").click()
        wait(browser, lambda d: "PERMISSION_DENIED" in text_of(d, "notice"))
        return text_of(browser, "notice"), text_of(browser, "s-status")

    message, status = await in_browser(try_pause)
    assert message.startswith("PERMISSION_DENIED: caller 'dashboard' lacks the 'write' scope")
    assert status == "ACTIVE"


async def test_the_service_page_shows_the_counts(console: Service, browser: WebDriver, shots: Path) -> None:
    async with SessionClient(f"127.0.0.1:{console.port}", token=WRITER) as c:
        for i in range(3):
            await c.create_session(session_id=f"svc-{i}")
        await c.pause_session("svc-0")

    def figures() -> dict[str, str]:
        browser.get(url(console, "/#/service"))
        browser.execute_script("sessionStorage.clear()")
        browser.refresh()
        sign_in(browser, READER)
        wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#svc-states tr[data-state='PAUSED']"))
        browser.save_screenshot(str(shots / "service.png"))
        found: dict[str, str] = {}
        for selector, key in (("#svc-states tr", "data-state"), ("#svc-persistence tr", "data-persistence")):
            for r in browser.find_elements(By.CSS_SELECTOR, selector):
                found[r.get_attribute(key)] = r.find_elements(By.TAG_NAME, "td")[1].text
        for r in browser.find_elements(By.CSS_SELECTOR, "#svc-figures tr"):
            found[r.get_attribute("data-figure")] = r.find_elements(By.TAG_NAME, "td")[1].text
        return found

    counts = await in_browser(figures)
    assert counts["ACTIVE"] == "2" and counts["PAUSED"] == "1"
    assert counts["EPHEMERAL"] == "3" and "DURABLE" not in counts
    assert counts["store"] == "memory" and counts["graph unreachable"] == "0s"


def _alert(driver: WebDriver) -> Any:
    try:
        return driver.switch_to.alert
    except NoAlertPresentException:
        return False
