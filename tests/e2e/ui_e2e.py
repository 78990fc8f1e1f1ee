#!/usr/bin/env python3
"""End-to-end test of the oneinit dashboard in headless Chromium (selenium).

Run by tests/main/ui.rs against a live oneinit; also takes the README screenshots
(--screenshots DIR). Prints one line per check and exits non-zero on failure.
"""
import argparse
import os
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select


def browser(width, height):
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for flag in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--window-size={width},{height}"]:
        opts.add_argument(flag)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)


def wait(cond, timeout=15.0, what="condition"):
    end = time.time() + timeout
    last = None
    while time.time() < end:
        try:
            if cond():
                return
        except Exception as e:  # element re-rendered while reading it
            last = e
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what} ({last})")


def open_with_token(d, url, token):
    d.get(url + "/ui/")
    d.execute_script("sessionStorage.setItem('oneinit-token', arguments[0]);", token)
    d.get(url + "/ui/")
    wait(lambda: len(d.find_elements(By.CSS_SELECTOR, "#services tbody tr")) > 0, what="service rows")


def state_of(d, name):
    return d.find_element(By.CSS_SELECTOR, f'#services tr[data-service="{name}"] .state').text


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--operator-token", required=True)
    ap.add_argument("--viewer-token", required=True)
    ap.add_argument("--dir", required=True, help="the services' working folder (files the test touches)")
    ap.add_argument("--screenshots", help="only take screenshots into this folder")
    a = ap.parse_args()

    if a.screenshots:
        for name, (w, h) in {"ui-desktop.png": (1280, 1200), "ui-narrow.png": (390, 1100)}.items():
            d = browser(w, h)
            try:
                open_with_token(d, a.url, a.operator_token)
                Select(d.find_element(By.ID, "log-service")).select_by_value("web")
                time.sleep(1.5)
                d.execute_script("window.scrollTo(0, 0);")
                time.sleep(0.2)
                d.save_screenshot(os.path.join(a.screenshots, name))
                print("screenshot", name)
            finally:
                d.quit()
        return 0

    passed, failed = 0, 0

    def check(name, fn):
        nonlocal passed, failed
        try:
            fn()
            passed += 1
            print("ok", name, flush=True)
        except Exception as e:
            failed += 1
            print("FAIL", name, "-", e, flush=True)

    d = browser(1280, 900)
    try:
        open_with_token(d, a.url, a.operator_token)

        def lists_services():
            names = {r.get_attribute("data-service") for r in d.find_elements(By.CSS_SELECTOR, "#services tbody tr")}
            assert {"web", "idle", "crasher", "xss"} <= names, names
            assert d.find_elements(By.CSS_SELECTOR, "#graph svg rect"), "no graph nodes"
        check("page lists the configured services and draws the graph", lists_services)

        def start_button():
            assert state_of(d, "idle") in ("inactive", "stopped"), state_of(d, "idle")
            d.find_element(By.CSS_SELECTOR, 'button[data-service="idle"][data-action="start"]').click()
            wait(lambda: state_of(d, "idle") in ("running", "ready"), what="idle running")
        check("a service started from the button shows as running", start_button)

        def crash_updates_live():
            open(os.path.join(a.dir, "crash-now"), "w").close()
            wait(lambda: state_of(d, "crasher") == "failed", what="crasher failed")
        check("a crash changes the state on the page without a reload (SSE)", crash_updates_live)

        def live_log_line():
            Select(d.find_element(By.ID, "log-service")).select_by_value("web")
            time.sleep(1.0)
            marker = f"fresh-line-{int(time.time() * 1000)}"
            with open(os.path.join(a.dir, "say"), "w") as f:
                f.write(marker)
            wait(lambda: marker in d.find_element(By.ID, "logs").text, what="the new log line")
        check("the log panel shows a line printed after the page was opened", live_log_line)

        def script_is_text():
            Select(d.find_element(By.ID, "log-service")).select_by_value("xss")
            wait(lambda: "<script>" in d.find_element(By.ID, "logs").text, what="the <script> line as text")
            assert d.execute_script("return window.__pwned === undefined;"), "injected script ran"
            assert not d.find_elements(By.CSS_SELECTOR, "#logs script, #logs img"), "markup was inserted"
        check("an injected <script> log line is shown as text, not executed", script_is_text)
    finally:
        d.quit()

    d = browser(1280, 900)
    try:
        open_with_token(d, a.url, a.viewer_token)

        def viewer_no_controls():
            time.sleep(0.5)
            assert not d.find_elements(By.CSS_SELECTOR, "button[data-action]"), "viewer sees control buttons"
        check("a viewer token sees no control buttons", viewer_no_controls)
    finally:
        d.quit()

    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
