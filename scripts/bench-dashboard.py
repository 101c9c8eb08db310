#!/usr/bin/env python3
"""The dashboard benchmark's two halves (see scripts/bench-dashboard.sh).

populate DB N        -- N enrolled, unmanaged, online subclouds with health, some alarms
run URL TOKEN PID N CLIENTS CHANGES
"""
import http.client
import json
import multiprocessing
import os
import random
import sqlite3
import statistics
import sys
import threading
import time
import urllib.parse
import urllib.request


def populate(path, count):
    db = sqlite3.connect(path)
    now = time.time()
    rows = []
    alarms = []
    for index in range(count):
        name = f"sim-{index:05d}"
        health = {"cpuPercent": random.uniform(1, 90), "memoryTotalBytes": 8 << 30, "memoryAvailableBytes": random.randint(1 << 30, 7 << 30),
                  "load1": 0.5, "uptimeSeconds": 86400, "disks": [{"mount": "/", "totalBytes": 100 << 30, "usedBytes": random.randint(10 << 30, 90 << 30)}],
                  "reportedAt": now - 978307200}
        # Offline (no agent runs): the availability sweep leaves them alone.
        rows.append((name, "Default", "simulated", "unmanaged", "offline", "enrolled", "in-sync", "in-sync", "unknown", "in-sync", now, now, now,
                     "tern-agent 0.2.0", json.dumps(health), "[]", f"{index:040x}"))
        if index % 50 == 0:
            alarms.append((name, "100.101", f"host={name}", "major", "disk above 80%", "disk", "clean up", 0, now))
    db.executemany("""INSERT INTO subcloud (name, groupName, description, management, availability, deployStatus, syncConfig, syncSoftware,
                      syncImages, syncFirmware, createdAt, enrolledAt, lastSeenAt, software, health, firmware, certificateSerial)
                      VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)""", rows)
    db.executemany("INSERT INTO alarm VALUES (?,?,?,?,?,?,?,?,?)", alarms)
    db.commit()
    print(f"populated {count} subclouds, {len(alarms)} alarms")


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return 0


def session(url, token):
    parsed = urllib.parse.urlparse(url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port)
    connection.request("POST", "/signin", body="token=" + token, headers={"Content-Type": "application/x-www-form-urlencoded"})
    response = connection.getresponse()
    response.read()
    return response.getheader("Set-Cookie").split(";")[0]


class Page(threading.Thread):
    """One SSE client: records when each watched change (NAME managed) arrives."""

    def __init__(self, url, cookie):
        super().__init__(daemon=True)
        self.url = urllib.parse.urlparse(url)
        self.cookie = cookie
        self.received = {}
        # When the controller wrote the delta (its `at`), per change: the receipt minus
        # this is the client's own delay (100 Python threads share one interpreter lock).
        self.written = {}
        self.snapshot_rows = 0
        self.snapshot = threading.Event()
        self.frames = 0

    def run(self):
        connection = http.client.HTTPConnection(self.url.hostname, self.url.port, timeout=600)
        connection.request("GET", "/v1/stream", headers={"Cookie": self.cookie, "Accept": "text/event-stream"})
        response = connection.getresponse()
        event, data = None, []
        while True:
            line = response.fp.readline()
            if not line:
                return
            line = line.decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
            elif line == "" and event:
                now = time.time()
                body = json.loads("".join(data))
                self.frames += 1
                if event == "snapshot":
                    self.snapshot_rows = len(body["rows"])
                    self.snapshot.set()
                elif event == "delta":
                    for row in body["rows"]:
                        if row["management"] == "managed" and row["name"] not in self.received:
                            self.received[row["name"]] = now
                            self.written[row["name"]] = body["at"]
                event, data = None, []


def burst(url, token, names):
    """Manages NAMES through the API from 8 threads; returns when each request was sent."""
    sent = {}
    parsed = urllib.parse.urlparse(url)

    def manage(chunk):
        connection = http.client.HTTPConnection(parsed.hostname, parsed.port)
        for name in chunk:
            sent[name] = time.time()
            connection.request("POST", f"/v1/subclouds/{name}/manage", headers={"Authorization": "Bearer " + token})
            response = connection.getresponse()
            response.read()
            assert response.status == 200, (name, response.status)

    threads = [threading.Thread(target=manage, args=(names[index::8],)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sent


def page_group(url, cookie, count, names, ready, go, results):
    """A process with COUNT pages: reports their snapshots, then (after the burst)
    when each page received each change and when the controller wrote it."""
    pages = [Page(url, cookie) for _ in range(count)]
    for page in pages:
        page.start()
    for page in pages:
        page.snapshot.wait(300)
    ready.put([page.snapshot_rows for page in pages])
    go.wait(600)
    deadline = time.time() + 120
    while time.time() < deadline and not all(len(page.received) >= len(names) for page in pages):
        time.sleep(0.05)
    results.put(([dict(page.received) for page in pages], [dict(page.written) for page in pages]))


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def measure_cpu(pid, seconds):
    start, wall = cpu_seconds(pid), time.time()
    time.sleep(seconds)
    return (cpu_seconds(pid) - start) / (time.time() - wall)


def run(url, token, pid, count, clients, changes):
    pid, count, clients, changes = int(pid), int(count), int(clients), int(changes)
    time.sleep(2)
    rest_idle = measure_cpu(pid, 10)
    print(f"controller at rest, no page open: {rest_idle * 100:.2f}% of a core, RSS {rss_mib(pid):.0f} MiB")

    # The same burst with no page open: what the API and the store cost by themselves.
    sample = random.sample(range(count), 2 * changes)
    baseline_names = [f"sim-{index:05d}" for index in sample[changes:]]
    cpu_before, burst_start = cpu_seconds(pid), time.time()
    burst(url, token, baseline_names)
    baseline_wall = time.time() - burst_start
    time.sleep(1)
    baseline_cpu = cpu_seconds(pid) - cpu_before
    print(f"baseline burst, no page open: {changes} changes through the API in {baseline_wall:.2f} s, "
          f"{baseline_cpu:.2f} CPU-seconds of the controller")

    started = time.time()
    cookie = session(url, token)
    # Pages in 10 processes of their own (each with its threads), so that parsing in
    # one interpreter does not delay the receipt times of the others.
    groups = min(10, clients)
    context = multiprocessing.get_context("fork")
    ready, results = context.Queue(), context.Queue()
    go = context.Event()
    names = [f"sim-{index:05d}" for index in sample[:changes]]
    workers = [context.Process(target=page_group, args=(url, cookie, clients // groups + (1 if index < clients % groups else 0), set(names), ready, go, results))
               for index in range(groups)]
    for worker in workers:
        worker.start()
    snapshot_rows = [ready.get(timeout=300) for _ in workers]
    connected = time.time() - started
    assert all(rows == [count] * len(rows) for rows in snapshot_rows), snapshot_rows
    print(f"{clients} pages connected, each with a {count}-row snapshot, in {connected:.2f} s; RSS {rss_mib(pid):.0f} MiB")
    time.sleep(3)
    rest = measure_cpu(pid, 10)
    print(f"controller at rest, {clients} pages open: {rest * 100:.2f}% of a core "
          f"({(rest - rest_idle) * 100:+.2f} points over no page)")

    # The burst: CHANGES subclouds managed through the API, from 8 threads.
    cpu_before, burst_start = cpu_seconds(pid), time.time()
    sent = burst(url, token, names)
    api_done = time.time() - burst_start
    go.set()
    received, written = [], []
    for _ in workers:
        group_received, group_written = results.get(timeout=300)
        received += group_received
        written += group_written
    burst_wall = max(max(page.values()) for page in received) - burst_start if received else 0
    time.sleep(max(0, burst_start + baseline_wall + 1 - time.time()))
    burst_seconds = cpu_seconds(pid) - cpu_before
    burst_cpu = burst_seconds / (time.time() - burst_start)
    latencies = [page[name] - sent[name] for page in received for name in names if name in page]
    missing = clients * changes - len(latencies)
    print(f"burst: {changes} changes through the API in {api_done:.2f} s; every page had all of them after {burst_wall:.2f} s; "
          f"controller {burst_cpu * 100:.1f}% of a core during the burst, {burst_seconds:.2f} CPU-seconds = "
          f"{burst_seconds / max(baseline_cpu, 0.01):.2f}× the burst with no page open ({missing} receipts missing)")
    print(f"update latency, API call → page receipt, over {len(latencies)} receipts: "
          f"p50 {percentile(latencies, 50) * 1000:.0f} ms, p99 {percentile(latencies, 99) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms "
          f"(coalescing window 250 ms)")
    writes = [page[name] - sent[name] for page in written for name in names if name in page]
    print(f"update latency, API call → controller writes the delta to the pages: p50 {percentile(writes, 50) * 1000:.0f} ms, "
          f"p99 {percentile(writes, 99) * 1000:.0f} ms")
    for worker in workers:
        worker.terminate()

    # First load in headless Chromium, against fetching the rows as JSON.
    started = time.time()
    request = urllib.request.Request(url + "/v1/subclouds", headers={"Authorization": "Bearer " + token})
    rows = json.load(urllib.request.urlopen(request, timeout=120))
    json_seconds = time.time() - started
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,900", "--disable-dev-shm-usage"]:
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        driver.get(url + "/signin")
        driver.find_element(By.ID, "token").send_keys(token)
        loads = []
        for attempt in range(3):
            started = time.time()
            if attempt == 0:
                driver.find_element(By.ID, "signin").click()
            else:
                driver.get(url + "/")
            WebDriverWait(driver, 120).until(lambda d: d.find_elements(By.ID, "fleet-count")
                                             and d.find_element(By.ID, "fleet-count").text == f"{count} of {count}")
            loads.append(time.time() - started)
        in_dom = driver.execute_script("return document.querySelectorAll('tr[data-name]').length")
    finally:
        driver.quit()
    print(f"fleet page first load in headless Chromium (sign-in → {count} rows counted and the first screen drawn): "
          f"{loads[0]:.2f} s, then {loads[1]:.2f} s and {loads[2]:.2f} s reloaded; {in_dom} rows in the DOM; "
          f"GET /v1/subclouds ({len(rows)} rows as JSON): {json_seconds:.2f} s → {loads[0] / json_seconds:.1f}× that")
    print(f"controller RSS at the end: {rss_mib(pid):.0f} MiB")


if __name__ == "__main__":
    if sys.argv[1] == "populate":
        populate(sys.argv[2], int(sys.argv[3]))
    else:
        run(*sys.argv[2:])
