#!/usr/bin/env python3
"""Drives the dashboard in headless Chromium (Debian's chromium + chromedriver,
Selenium from the project's venv) and prints what it saw as one JSON document.

The Swift test (DashboardTests) starts the controller and agents, then runs this
with: URL, TOKEN (operator), VIEWER (a viewer token), KILL_PID and KILL_NAME (an
agent to kill -9), NAMES (the sites, comma-separated), ARTEFACTS (screenshots).
"""
import json
import os
import signal
import sys
import time
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.support.ui import WebDriverWait

URL = os.environ["URL"].rstrip("/")
TOKEN = os.environ["TOKEN"]
VIEWER = os.environ["VIEWER"]
NAMES = os.environ["NAMES"].split(",")
KILL_PID = int(os.environ["KILL_PID"])
KILL_NAME = os.environ["KILL_NAME"]
ARTEFACTS = os.environ["ARTEFACTS"]
results = {}


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def text_of(driver, by, selector):
    """The element's text; the page re-renders on every delta, so an element found a
    moment ago may be gone: find it again."""
    for _ in range(20):
        try:
            return driver.find_element(by, selector).text
        except StaleElementReferenceException:
            time.sleep(0.05)
    return driver.find_element(by, selector).text


def http(method, path, headers=None, body=None):
    """Status and Location of one request, redirects not followed."""
    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(URL + path, data=body, method=method, headers=headers or {})
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, response.headers.get("Location"), response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Location"), error.headers


def shown(driver):
    """The fleet rows in the DOM, read in one go (deltas redraw them at any time)."""
    return driver.execute_script("return [...document.querySelectorAll('tr[data-name]')].map(e => e.dataset.name)")


def session_cookie(token):
    status, _, headers = http("POST", "/signin", {"Content-Type": "application/x-www-form-urlencoded"},
                              ("token=" + urllib.request.quote(token)).encode())
    cookie = headers.get("Set-Cookie") or ""
    return status, cookie.split(";")[0]


# Without a token: pages go to sign-in, the API and the event stream answer 401.
results["anonymous_page"] = http("GET", "/")[:2]
results["anonymous_stream"] = http("GET", "/v1/stream")[0]
results["anonymous_api"] = http("GET", "/v1/subclouds")[0]
results["wrong_signin"] = http("POST", "/signin", {"Content-Type": "application/x-www-form-urlencoded"}, b"token=nope")[:2]
# A viewer can read but not change, by bearer token or by session.
results["viewer_get"] = http("GET", "/v1/subclouds", {"Authorization": "Bearer " + VIEWER})[0]
results["viewer_post"] = http("POST", "/v1/subclouds", {"Authorization": "Bearer " + VIEWER, "Content-Type": "application/json"},
                              b'{"name":"intruder"}')[0]
status, cookie = session_cookie(VIEWER)
results["viewer_session"] = [status, cookie.startswith("tern_session=")]
results["viewer_session_get"] = http("GET", "/v1/subclouds", {"Cookie": cookie})[0]
results["viewer_session_post"] = http("POST", "/v1/subclouds", {"Cookie": cookie, "Content-Type": "application/json"}, b'{"name":"x"}')[0]
_, _, headers = http("GET", "/signin")
results["headers"] = {name: headers.get(name) for name in ["Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options"]}
_, _, headers = http("POST", "/signin", {"Content-Type": "application/x-www-form-urlencoded"}, ("token=" + TOKEN).encode())
results["cookie_flags"] = headers.get("Set-Cookie", "").split(";")[1:]

options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for argument in ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,900", "--disable-dev-shm-usage"]:
    options.add_argument(argument)
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
wait = WebDriverWait(driver, 20)
try:
    # Sign in through the form; the token goes in a POST body, never the URL.
    driver.get(URL + "/")
    results["redirected_to"] = driver.current_url.replace(URL, "")
    driver.find_element(By.ID, "token").send_keys(TOKEN)
    started = time.time()
    driver.find_element(By.ID, "signin").click()
    wait.until(lambda d: all(d.find_elements(By.CSS_SELECTOR, f'tr[data-name="{n}"][data-availability="online"]') for n in NAMES))
    results["first_load_s"] = round(time.time() - started, 3)
    results["url_after_signin"] = driver.current_url.replace(URL, "")
    results["token_in_page"] = TOKEN in driver.page_source
    driver.save_screenshot(os.path.join(ARTEFACTS, "fleet.png"))

    # Kill an agent: its row turns offline and its critical alarm shows, without a reload.
    driver.execute_script("""
        const name = arguments[0];
        window.ternMarks = {};
        const observer = new MutationObserver(() => {
          const row = document.querySelector(`tr[data-name="${name}"]`);
          if (!row) return;
          if (row.dataset.availability === "offline" && !window.ternMarks.offline) window.ternMarks.offline = Date.now() / 1000;
          if (Number(row.dataset.critical) > 0 && !window.ternMarks.critical) window.ternMarks.critical = Date.now() / 1000;
        });
        observer.observe(document.body, { subtree: true, childList: true, attributes: true });
        window.ternMarks.navigations = performance.getEntriesByType("navigation").length;
        window.ternMarks.page = Math.random();
        window.ternPage = window.ternMarks.page;
    """, KILL_NAME)
    os.kill(KILL_PID, signal.SIGKILL)
    killed = time.time()
    WebDriverWait(driver, 30).until(lambda d: d.execute_script("return window.ternMarks.offline && window.ternMarks.critical"))
    marks = driver.execute_script("return window.ternMarks")
    offline_event = driver.execute_script(
        "return window.ternFeed.events.filter(e => e.subcloud === arguments[0] && e.kind === 'offline').map(e => e.at).pop()", KILL_NAME)
    results["same_page"] = driver.execute_script("return window.ternPage") == marks["page"]
    results["offline_after_kill_s"] = round(marks["offline"] - killed, 3)
    results["store_to_dom_s"] = round(max(marks["offline"], marks["critical"]) - offline_event, 3) if offline_event else None
    results["critical_tile"] = text_of(driver, By.CSS_SELECTOR, "#tile-critical .value")

    # Filter and sort.
    box = driver.find_element(By.ID, "filter-text")
    box.send_keys(NAMES[0])
    results["filtered"] = shown(driver)
    driver.execute_script("const b = document.getElementById('filter-text'); b.value = ''; b.dispatchEvent(new Event('input'));")
    driver.find_element(By.ID, "filter-critical").click()
    results["critical_only"] = shown(driver)
    driver.find_element(By.ID, "filter-critical").click()
    header = driver.find_element(By.CSS_SELECTOR, 'th[data-sort="name"]')
    results["sorted_ascending"] = shown(driver)
    header.click()
    results["sorted_descending"] = shown(driver)
    header.click()
    results["count_text"] = text_of(driver, By.ID, "fleet-count")

    # A subcloud page draws its charts from the controller's samples.
    # Rows are redrawn by every delta: click through the page, not a held element.
    driver.execute_script("document.querySelector(`tr[data-name='${arguments[0]}']`).click()", NAMES[0])
    wait.until(lambda d: d.execute_script("const c = document.getElementById('chart-cpu'); return c && Number(c.dataset.points) > 0"))
    results["chart_points"] = driver.execute_script("return Number(document.getElementById('chart-cpu').dataset.points)")
    results["chart_painted"] = driver.execute_script("""
        const c = document.getElementById('chart-cpu');
        const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let painted = 0;
        for (let i = 3; i < data.length; i += 4) if (data[i] > 0) painted++;
        return painted;""")
    results["firmware_rows"] = len(driver.find_elements(By.CSS_SELECTOR, "#subcloud-firmware tbody tr"))
    driver.save_screenshot(os.path.join(ARTEFACTS, "subcloud.png"))

    # The alarms page lists the dead agent's critical alarm.
    driver.get(URL + "/#/alarms")
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, f'tr[data-alarm^="{KILL_NAME}/"]'))
    results["alarm_rows"] = driver.execute_script("return [...document.querySelectorAll('tr[data-alarm]')].map(e => e.dataset.alarm)")
    driver.save_screenshot(os.path.join(ARTEFACTS, "alarms.png"))
    driver.get(URL + "/#/events")
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#event-list li"))
    results["events_shown"] = len(driver.find_elements(By.CSS_SELECTOR, "#event-list li"))
    results["console_errors"] = [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
finally:
    driver.quit()
json.dump(results, sys.stdout)
print()
