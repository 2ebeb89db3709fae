"""A real browser reads the insights page: Debian's headless Chromium, driven by selenium,
signs in through the fake Slack's authorize page, opens the workspace page and a team's
page, at desktop and at phone width, and saves screenshots as test artifacts
(`ADVOCATE_TEST_ARTIFACTS`, default `test-artifacts/` at the repository's root).

Without `chromium` and `chromedriver` on the PATH (Debian's `chromium` and
`chromium-driver`) the test skips, saying so; under CI it fails instead, since `.ci/run`
installs them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver import ChromeOptions
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By

from bot.store.db import Database
from tests.conftest import ANA, BEN, GIVER
from tests.e2e.processes import Running, bot_env, running, stored, wait_until
from tests.e2e.test_cli import advocate
from tests.support.fake_slack import FakeSlack

CLIENT_ID = "111.222"
CLIENT_SECRET = "client-secret"
ADMIN = "U900"
SALES = [ADMIN, ANA, BEN]
OPS = [GIVER, "U444", "U555"]
ARTIFACTS = Path(
    os.environ.get("ADVOCATE_TEST_ARTIFACTS", Path(__file__).parents[2] / "test-artifacts")
)
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")


def browser(width: int, height: int) -> WebDriver:
    if not (CHROMIUM and DRIVER):
        reason = "the browser test needs Debian's chromium and chromium-driver on the PATH"
        if os.environ.get("CI"):
            pytest.fail(reason + " (.ci/run installs them)")
        pytest.skip(reason)
    options = ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument(f"--window-size={width},{height}")
    return WebDriver(options=options, service=Service(executable_path=DRIVER))


@pytest.fixture
def bot(slack: FakeSlack, db: Database, tmp_path: Path) -> Iterator[Running]:
    slack.add_user(ADMIN, name="maya", real_name="Maya", is_admin=True)
    for user_id, name in (("U444", "omar"), ("U555", "priya")):
        slack.add_user(user_id, name=name, real_name=name.title())
    slack.add_usergroup("S0SALES", "Sales", SALES)
    slack.add_usergroup("S0OPS", "Ops", OPS)
    slack.openid_client(CLIENT_ID, CLIENT_SECRET)
    env = bot_env(slack, db, SLACK_CLIENT_ID=CLIENT_ID, SLACK_CLIENT_SECRET=CLIENT_SECRET)
    with running(env, tmp_path, "run", "--http", "--no-scheduler") as started:
        assert started.client is not None
        thanks = [
            (ANA, GIVER, "for the renewal numbers"),
            (BEN, GIVER, "for the quote in an hour"),
            (ADMIN, "U444", "for the contract review"),
            (GIVER, ANA, "for the customer intro"),
            ("U555", BEN, "for the pricing deck"),
            (ANA, BEN, "for covering the demo"),
        ]
        for n, (giver, recipient, why) in enumerate(thanks):
            status, _ = started.client.command(
                command="/appreciate",
                text=f"<@{recipient}> {why}",
                user_id=giver,
                response_url=slack.response_url(f"thanks-{n}"),
            )
            assert status == 200
        assert wait_until(lambda: stored(db) == 0, 30)
        # The tick reads the teams from Slack's user groups.
        ticked = advocate("tick", env=env, cwd=tmp_path)
        assert ticked.returncode == 0, ticked.stderr
        yield started


def test_a_browser_signs_in_and_reads_the_workspace_and_a_team_page(
    bot: Running, slack: FakeSlack
) -> None:
    assert bot.client is not None
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    slack.signin_as(ADMIN)
    driver = browser(1200, 2400)
    try:
        driver.get(bot.client.base_url + "/insights?period=quarter")
        # Signed in through Slack's authorize page and back: the workspace page.
        assert driver.current_url.endswith("/insights?period=quarter")
        page = driver.page_source
        assert "Who carries whom" in page and "The internal advocates" in page
        assert "Sales" in page and "Ops" in page
        driver.save_screenshot(str(ARTIFACTS / "insights-workspace.png"))

        driver.find_element(By.LINK_TEXT, "Sales").click()
        assert "team=S0SALES" in driver.current_url
        assert "Who Sales relies on" in driver.page_source
        driver.save_screenshot(str(ARTIFACTS / "insights-team.png"))

        # At a phone's width nothing runs off the side of the page.
        driver.set_window_size(390, 1800)
        driver.get(bot.client.base_url + "/insights")
        overflow = driver.execute_script(
            "return document.documentElement.scrollWidth - window.innerWidth"
        )
        assert overflow <= 0
        driver.save_screenshot(str(ARTIFACTS / "insights-phone.png"))
    finally:
        driver.quit()
    for name in ("insights-workspace.png", "insights-team.png", "insights-phone.png"):
        assert (ARTIFACTS / name).stat().st_size > 10_000
