"""A supervisor pauses an agent from the live page with a reason, sees the pause and its
reason live, and resumes them (headless Chromium, Playwright). The pause is the agent's
break: telephony skips the agent with that reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from acd.core.commands import Ring
from acd.core.events import CallArrived

from .test_browser import ARGS, CHROMIUM, sign_in, sync_api  # noqa: F401 - the module skips without Chromium
from .test_workspace_browser import Running, browser, running  # noqa: F401 - fixtures


def test_a_supervisor_pauses_an_agent_with_a_reason_from_the_live_page_and_resumes_them(
        running: Running, browser: Any, tmp_path: Path) -> None:  # noqa: F811 - fixtures
    running.server.call(running.desk.clock_in, "anna")
    # the live page lists every agent to a supervisor who oversees agents
    running.service.user("tess", "supervisor", {"open_channels", "agents"})
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    url = running.server.url
    sign_in(page, url, "tess")  # on the live page
    page.get_by_label("Reason to pause Anna").select_option("training")
    page.get_by_role("button", name="Pause Anna").click()
    page.get_by_text("Anna Berg is paused: training.").wait_for()
    page.get_by_role("button", name="Resume Anna").wait_for()  # the live picture followed
    row = page.locator("#agents tr[data-agent-id=anna]")
    assert "on a break (training)" in row.inner_text()  # the state as people say it, and why
    page.screenshot(path=str(tmp_path / "live-paused.png"), full_page=True)
    service = running.service
    service.pbx.commands.clear()
    service.distributor.feed(CallArrived("c1", "+4930111111", "+4917100000001"))
    assert "anna" not in [a for c in service.pbx.commands if isinstance(c, Ring) for a in c.agent_ids]
    page.get_by_role("button", name="Resume Anna").click()
    page.get_by_text("Anna Berg is back at work.").wait_for()
    page.get_by_role("button", name="Pause Anna").wait_for()
    assert running.server.call(running.desk.work_state, "anna")["working"]


def test_pause_settings_on_the_agents_and_group_pages_in_the_browser(
        running: Running, browser: Any, tmp_path: Path) -> None:  # noqa: F811 - fixtures
    running.service.user("tess", "supervisor", {"agents", "telephony"})
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    url = running.server.url
    sign_in(page, url, "tess")
    page.goto(url + "/agents")
    page.get_by_label("One reason a line").fill("lunch\ncoaching")
    page.get_by_role("button", name="Save pause reasons").click()
    page.get_by_text("Saved and applied.").wait_for()
    assert running.service.distributor.router.config.pause_reasons == ("lunch", "coaching")
    page.screenshot(path=str(tmp_path / "agents-pause-reasons.png"), full_page=True)
    page.goto(url + "/groups/sales")
    page.get_by_label("Pause a member after this many calls in a row rang out at them (0: never)").fill("3")
    page.screenshot(path=str(tmp_path / "group-auto-pause.png"), full_page=True)
