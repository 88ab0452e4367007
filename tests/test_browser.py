"""The pages in a real browser: headless Chromium (Debian's package, driven by selenium) loading
each page from a real gunicorn on loopback. One browser for the module.

Skipped, saying why, only where Chromium or its driver cannot be had (make test installs them).
"""

from __future__ import annotations

import csv
import time

import pytest

from cycle.local_server import running_server
from pipeline.report.risk import read_risk_list
from tests.helpers import HOSTILE, add_hostile_clients, build_story, token_config
from tools.browser import (
    LAPTOP,
    PHONE,
    chromium,
    distinct_colours,
    find_browser,
    full_page_screenshot,
)

_, _, WHY = find_browser()
pytestmark = [pytest.mark.slow, pytest.mark.skipif(bool(WHY), reason=WHY or "ok")]
TOKEN = "browser-t0ken-for-tests"


@pytest.fixture(scope="module")
def story(tmp_path_factory, datasets):
    settings = build_story(tmp_path_factory.mktemp("browser-story"), datasets)
    add_hostile_clients(settings)
    return settings


@pytest.fixture(scope="module")
def server(story):
    with running_server(story.config_path) as url:
        yield url


@pytest.fixture(scope="module")
def guarded_server(story):
    with running_server(token_config(story.root, TOKEN)) as url:
        yield url


@pytest.fixture(scope="module")
def downloads(tmp_path_factory):
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def browser(downloads):
    with chromium(LAPTOP, downloads=downloads) as session:
        yield session


def errors(browser) -> list[dict]:
    """The console's errors since the last call."""
    return [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


def visit(browser, url: str):
    browser.get(url)
    return browser


def click(browser, element) -> None:
    """Click something that loads a page, and wait until the new page is there.

    The old page is marked and the wait is for a complete document without the mark. Waiting for
    an old element to go stale instead races with the navigation: chromedriver can then answer
    "Node with given id does not belong to the document" rather than "stale element".
    """
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.wait import WebDriverWait

    browser.execute_script("window.__beforeClick = true")
    element.click()

    def loaded(driver) -> bool:
        try:
            return driver.execute_script(
                "return !window.__beforeClick && document.readyState === 'complete'")
        except WebDriverException:  # between two documents
            return False

    WebDriverWait(browser, 20).until(loaded)


def table(browser) -> list[list[str]]:
    from selenium.webdriver.common.by import By

    return [[cell.text for cell in row.find_elements(By.CSS_SELECTOR, "th, td")]
            for row in browser.find_elements(By.CSS_SELECTOR, "#clients tbody tr")]


@pytest.mark.parametrize("path, heading", [
    ("/", "State of the system"), ("/clients", "Whom to call"), ("/clients/swoi", "swoi"),
    ("/decisions", "Every drift decision"),
])
def test_each_page_loads_without_console_errors_and_is_not_blank(browser, server, tmp_path,
                                                                  path, heading):
    from selenium.webdriver.common.by import By

    errors(browser)
    visit(browser, server + path)
    assert browser.find_element(By.TAG_NAME, "h1").text == heading
    assert errors(browser) == []
    for label, size in (("laptop", LAPTOP), ("phone", PHONE)):
        shot = full_page_screenshot(browser, tmp_path / f"{heading}-{label}.png", size[0])
        assert shot.stat().st_size > 5000
        assert distinct_colours(shot) > 20, f"{shot} looks blank"
    width = browser.execute_script("return document.documentElement.scrollWidth")
    assert width <= PHONE[0] + 1, "the page scrolls sideways on a phone (tables may, inside)"
    browser.set_window_size(*LAPTOP)
    if path == "/":
        images = browser.find_elements(By.CSS_SELECTOR, "img.chart")
        assert images and all(browser.execute_script(
            "return arguments[0].complete && arguments[0].naturalWidth > 0", i) for i in images)


def test_the_top_client_of_riskscores_is_first(browser, server, story):
    written = read_risk_list(story.model_folder)  # the names exact
    rows = table(visit(browser, server + "/clients"))
    assert rows[0][:2] == ["1", written["corporation"][0]]
    assert [r[1] for r in rows] == written["corporation"].head(50).tolist()


def test_search_and_sort_work_by_clicking(browser, server, story):
    from selenium.webdriver.common.by import By

    visit(browser, server + "/clients")
    box = browser.find_element(By.ID, "q")
    box.send_keys("SW")
    click(browser, browser.find_element(By.CSS_SELECTOR, "form.search button"))
    rows = table(browser)
    assert rows and all("sw" in r[1].lower() for r in rows)
    written = read_risk_list(story.model_folder)  # the names exact
    matches = written[written["corporation"].str.lower().str.contains("sw")]
    assert [r[1] for r in rows] == matches["corporation"].head(50).tolist()
    click(browser, browser.find_element(By.LINK_TEXT, "Employees"))
    employees = [int(r[6]) for r in table(browser)]
    assert employees == sorted(employees, reverse=True) and len(employees) == min(50, len(matches))
    click(browser, browser.find_element(By.PARTIAL_LINK_TEXT, "Employees"))  # again: ascending
    assert [int(r[6]) for r in table(browser)] == \
        sorted(int(v) for v in matches["number_of_employees"])[:50]
    assert errors(browser) == []


def test_the_csv_download_matches_the_table(browser, server, downloads):
    from selenium.webdriver.common.by import By

    visit(browser, server + "/clients?q=a&sort=probability&dir=asc&page=2")
    shown = table(browser)
    for old in downloads.glob("*"):
        old.unlink()
    browser.find_element(By.CSS_SELECTOR, "a.download").click()  # a download: no new page
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        files = [p for p in downloads.glob("*.csv")]
        if files and not list(downloads.glob("*.crdownload")):
            break
        time.sleep(0.1)
    (path,) = files
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0][:2] == ["Rank", "Corporation"]
    assert rows[1:] == shown


def test_signing_in_works_with_the_token_and_refuses_a_wrong_one(browser, guarded_server):
    from selenium.webdriver.common.by import By

    browser.delete_all_cookies()
    visit(browser, guarded_server + "/clients?page=2")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Sign in"
    assert table(browser) == []
    browser.find_element(By.ID, "token").send_keys("wrong")
    click(browser, browser.find_element(By.CSS_SELECTOR, "form.signin button"))
    assert browser.find_element(By.ID, "signin-error").text == "That is not the token."
    browser.find_element(By.ID, "token").send_keys(TOKEN)
    click(browser, browser.find_element(By.CSS_SELECTOR, "form.signin button"))
    assert browser.find_element(By.TAG_NAME, "h1").text == "Whom to call"
    assert browser.current_url.endswith("/clients?page=2")
    assert table(browser)[0][0] == "51"
    (cookie,) = browser.get_cookies()
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and TOKEN not in cookie["value"]
    assert browser.execute_script("return document.cookie") == ""
    # The sign-in form came with 401, which Chromium logs; nothing else may be logged.
    assert all("status of 401" in e["message"] for e in errors(browser))
    visit(browser, guarded_server + "/")
    assert errors(browser) == []
    click(browser, browser.find_element(By.CSS_SELECTOR, "form.signout button"))
    assert browser.find_element(By.TAG_NAME, "h1").text == "Sign in"
    assert browser.get_cookies() == []
    browser.delete_all_cookies()


def test_a_hostile_name_renders_as_text(browser, server):
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    errors(browser)
    visit(browser, server + "/clients")
    names = [r[1] for r in table(browser)]
    for name in HOSTILE:
        assert name in names
    for name in HOSTILE[:2]:
        click(browser, browser.find_element(By.LINK_TEXT, name))
        assert browser.find_element(By.TAG_NAME, "h1").text == name
        with pytest.raises(NoAlertPresentException):
            browser.switch_to.alert.text  # noqa: B018 (an alert would mean the script ran)
        assert browser.find_elements(By.TAG_NAME, "script") == []
        visit(browser, server + "/clients")
    assert errors(browser) == []
