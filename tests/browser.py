"""Headless Chromium (Debian's chromium + chromium-driver, installed by scripts/setup_env.sh) driven by
Selenium, with the browser console captured."""
from __future__ import annotations

import contextlib
import shutil

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM, CHROMEDRIVER = "chromium", "chromedriver"
ARGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--mute-audio")


@contextlib.contextmanager
def chromium():
    binary, driver_path = shutil.which(CHROMIUM), shutil.which(CHROMEDRIVER)
    assert binary and driver_path, "chromium and chromedriver are needed (scripts/setup_env.sh installs them)"
    options = webdriver.ChromeOptions()
    for arg in ARGS:
        options.add_argument(arg)
    options.binary_location = binary
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def console_errors(driver) -> list[dict]:
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
