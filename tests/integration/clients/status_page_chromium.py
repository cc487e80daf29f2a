#!/usr/bin/env python3
"""The status page of `ftdr serve` (GET /) in a real headless Chromium, driven by Selenium.

Starts the real `ftdr serve` (libtorch plugin, embedded demo model models/ftdr-shapes, a token),
opens the page, sees the 401 until the token is entered, submits a prompt through the form, waits
(bounded) until the job shows as completed in the DOM, and checks its prompt, its progress (total
reached) and its thumbnail (loaded, naturalWidth == the requested width); then submits width 20 and
checks the 400 message naming `width` for width 18.

Exit 0: passed; 1: failed; 77: skipped (CTest SKIP_RETURN_CODE), printing why: no selenium (run
scripts/test-clients.sh), no chromium/chromedriver (scripts/setup-deps.sh), or no libtorch plugin.
    status_page_chromium.py --ftdr BIN --plugins DIR --source DIR --work DIR [--screenshot PNG]
"""
import argparse
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import time

SKIP = 77
CHROMEDRIVER = "/usr/bin/chromedriver"
TOKEN = "page-test-token"
WIDTH, HEIGHT, STEPS = 64, 48, 6


def skip(why):
    print("SKIPPED: " + why, flush=True)
    sys.exit(SKIP)


def import_selenium(source):
    """Selenium from this interpreter, else from the clients' venv (re-executing under it)."""
    try:
        import selenium  # noqa: F401
        return
    except ImportError:
        pass
    venv_python = pathlib.Path(os.environ.get("FTDR_CLIENTS_VENV", source / "build" / "venv-clients")) / "bin" / "python"
    if venv_python.exists() and os.environ.get("FTDR_REEXEC") != "1":
        os.environ["FTDR_REEXEC"] = "1"
        os.execv(str(venv_python), [str(venv_python)] + sys.argv)
    skip("python package selenium missing (scripts/test-clients.sh installs it into build/venv-clients)")


def start_server(args, work):
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    (work / "token.txt").write_text(TOKEN + "\n")
    (work / "serve.toml").write_text(f"""[runtime]
state_dir = "{work / 'state'}"
output_dir = "{work / 'out'}"
[plugins]
search_path = ["{args.plugins}"]
[model]
path = "{args.source / 'models' / 'ftdr-shapes'}"
[backend]
plugin = "libtorch"
[backend.libtorch]
device = "cpu"
[memory]
policy = "resident"
[server]
listen = "127.0.0.1:0"
token_file = "token.txt"
[generate]
width = 64
height = 64
steps = 20
sampler = "ddim"
""")
    out = open(work / "serve.out", "w")
    err = open(work / "serve.err", "w")
    proc = subprocess.Popen([args.ftdr, "serve", "--config", str(work / "serve.toml")], stdout=out, stderr=err)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = (work / "serve.out").read_text()
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+)\n", text)
        if m and "ftdr serve: ready" in text:
            return proc, int(m.group(1))
        if proc.poll() is not None:
            raise SystemExit("ftdr serve exited at start: " + (work / "serve.err").read_text())
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("ftdr serve not ready within 60 s: " + (work / "serve.err").read_text())


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1100,1000"):
        options.add_argument(a)
    return webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))


def fill(driver, values):
    from selenium.webdriver.common.by import By
    form = driver.find_element(By.ID, "submit-form")
    for name, value in values.items():
        field = form.find_element(By.NAME, name)
        field.clear()
        field.send_keys(str(value))
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()


def check_page(driver, port, screenshot):
    from selenium.webdriver.common.by import By
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait
    # The page redraws each second: an element found just before a redraw may be gone.
    wait = WebDriverWait(driver, 120, poll_frequency=0.1, ignored_exceptions=(StaleElementReferenceException,))
    text_of = lambda element_id: driver.find_element(By.ID, element_id).text  # noqa: E731

    driver.get(f"http://127.0.0.1:{port}/")
    assert driver.title == "ftdr serve", driver.title
    # Without the token the API answers 401 and the page says so.
    wait.until(lambda d: "401" in text_of("auth-error"))
    driver.find_element(By.ID, "token").send_keys(TOKEN)
    driver.find_element(By.ID, "token-save").click()
    wait.until(lambda d: text_of("ready") == "ready" and text_of("auth-error") == "")

    prompt = "a red circle on blue, from the page"
    fill(driver, {"prompt": prompt, "steps": STEPS, "seed": 11, "width": WIDTH, "height": HEIGHT})
    wait.until(lambda d: d.find_element(By.ID, "submit-result").get_attribute("data-job-id"))
    job_id = driver.find_element(By.ID, "submit-result").get_attribute("data-job-id")
    row = f".recent-job[data-job-id='{job_id}']"

    def finished(d):
        rows = d.find_elements(By.CSS_SELECTOR, row)
        if not rows or rows[0].find_element(By.CLASS_NAME, "state").text in ("", "queued"):
            return False
        imgs = rows[0].find_elements(By.CSS_SELECTOR, "img.thumb")
        return all(d.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", i) for i in imgs)
    wait.until(finished)
    job = driver.find_element(By.CSS_SELECTOR, row)
    assert job.find_element(By.CLASS_NAME, "state").text == "completed", job.text
    assert job.find_element(By.CLASS_NAME, "prompt").text == prompt, job.text
    bar = job.find_element(By.TAG_NAME, "progress")
    assert bar.get_attribute("value") == str(STEPS) and bar.get_attribute("max") == str(STEPS), job.text
    assert f"{STEPS}/{STEPS}" in job.find_element(By.CLASS_NAME, "progress").text, job.text
    imgs = job.find_elements(By.CSS_SELECTOR, "img.thumb")
    assert len(imgs) == 1, job.text
    size = driver.execute_script("return [arguments[0].naturalWidth, arguments[0].naturalHeight]", imgs[0])
    assert size == [WIDTH, HEIGHT], size
    assert "attempts: 1" in job.find_element(By.CLASS_NAME, "attempts").text, job.text
    # The memory chart has a line once /metrics answered.
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#memory-chart polyline"))
    if screenshot:
        driver.save_screenshot(str(screenshot))

    # 18: not a multiple of the demo model's VAE factor (4), nor of SD's (8).
    fill(driver, {"width": 18})
    wait.until(lambda d: text_of("submit-error") != "")
    error = driver.find_element(By.ID, "submit-error")
    assert error.get_attribute("data-field") == "width", error.text
    assert re.fullmatch(r"400 \(width\): request field 'width': expected a multiple of \d+ in \[\d+, 8192\], got 18",
                        error.text), error.text
    print(f"status page: job {job_id} completed in the DOM, thumbnail {size[0]}x{size[1]}, 400 names width")


def main():
    parser = argparse.ArgumentParser()
    for a in ("--ftdr", "--plugins", "--source", "--work"):
        parser.add_argument(a, required=True, type=pathlib.Path)
    parser.add_argument("--screenshot", type=pathlib.Path)
    args = parser.parse_args()
    import_selenium(args.source)
    for tool in ("chromium", CHROMEDRIVER):
        if not shutil.which(tool):
            skip(f"{tool} missing (Debian packages chromium and chromium-driver; scripts/setup-deps.sh)")
    if not (args.plugins / "ftdr_plugin_libtorch.so").exists():
        skip(f"no libtorch plugin in {args.plugins} (the demo model needs it)")
    proc, port = start_server(args, args.work)
    driver = None
    try:
        driver = browser()
        check_page(driver, port, args.screenshot)
    finally:
        if driver:
            driver.quit()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    assert proc.returncode == 0, f"ftdr serve exited {proc.returncode}: " + (args.work / "serve.err").read_text()


if __name__ == "__main__":
    main()
