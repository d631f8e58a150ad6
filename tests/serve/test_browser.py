"""The page in a real headless browser: Debian's chromium driven through chromedriver (selenium), nothing
downloaded at run time. It chooses the bundled sample photo and waits for one box and seven bars."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.e2e

FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1100,760", "--force-device-scale-factor=1"]


@pytest.fixture
def browser(tmp_path):
    if not (CHROMIUM and DRIVER):
        if os.environ.get("CI"):
            pytest.fail("chromium and chromium-driver must be installed in CI (.ci/run installs them)")
        pytest.skip("Debian's chromium and chromium-driver are not installed (apt-get install chromium "
                    "chromium-driver)")
    os.environ.setdefault("SE_OFFLINE", "true")  # selenium must not look for drivers on the network
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for f in FLAGS + [f"--user-data-dir={tmp_path / 'profile'}"]:
        opts.add_argument(f)
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=opts)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def test_page_boxes_the_face_with_seven_bars(browser, server, astronaut_png, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    photo = tmp_path / "astronaut.png"
    photo.write_bytes(astronaut_png)
    browser.get(server + "/")
    browser.find_element(By.ID, "file").send_keys(str(photo))
    WebDriverWait(browser, 60).until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-state")
                                     in ("done", "error"))
    status = browser.find_element(By.ID, "status").text
    assert browser.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "done", status
    assert status == "1 face found"
    assert len(browser.find_elements(By.CSS_SELECTOR, "#stage .box")) == 1
    bars = browser.find_elements(By.CSS_SELECTOR, "#faces .bar")
    assert [b.find_element(By.CLASS_NAME, "name").text for b in bars] == \
        ["Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral"]
    box = browser.find_element(By.CSS_SELECTOR, "#stage .box").rect
    img = browser.find_element(By.CSS_SELECTOR, "#stage img").rect
    assert 0.3 < (box["x"] - img["x"]) / img["width"] < 0.4  # the face is at x 177 of 512
    shot = tmp_path / "serve_page.png"
    assert browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    if os.environ.get("FER_SCREENSHOT"):  # how docs/serve_page.png is made
        shutil.copyfile(shot, Path(os.environ["FER_SCREENSHOT"]))
