"""The dashboard in a real headless Chromium (Debian's ``chromium`` and ``chromedriver``,
driven by Selenium; nothing is downloaded): loaded from disk with no console errors
and no fetches, figures read from the live DOM, filters used, screenshots saved."""

from __future__ import annotations

import base64
import os
import shutil
from pathlib import Path

import pytest

from fpga_flow.dashboard import collect_runs, write_dashboard, write_run_page

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
RUNS = REPO / "tests" / "data" / "runs"
ARTIFACTS = REPO / "tests" / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WIDTH = 1300


def _missing_browser() -> str | None:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if not missing:
        return None
    return f"{' and '.join(missing)} missing: install Debian's chromium and chromium-driver (make system-deps)"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    problem = _missing_browser()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(problem)
        pytest.skip(problem)
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}", f"--window-size={WIDTH},900"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    yield driver
    driver.quit()


def open_page(driver, page: Path) -> list[dict]:
    """Load ``page`` from disk; returns the console messages it produced."""
    driver.get(page.resolve().as_uri())
    driver.execute_script("return document.readyState")
    return driver.get_log("browser")


def screenshot(driver, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": WIDTH, "height": height, "scale": 1}})
    path = ARTIFACTS / name
    path.write_bytes(base64.b64decode(shot["data"]))
    print(f"screenshot: {path}")
    return path


def metric(driver, run_id: str, name: str, scope: str = "tr"):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, f'{scope}[data-run-id="{run_id}"] [data-metric="{name}"]')


@pytest.fixture(scope="module")
def dashboard_page(tmp_path_factory) -> Path:
    tree = tmp_path_factory.mktemp("reports")
    shutil.copytree(RUNS, tree / "runs")
    (tree / "runs" / "interrupted").mkdir()
    (tree / "runs" / "interrupted" / "INCOMPLETE").write_text("stage: testbench\n")
    summaries, warnings = collect_runs([tree])
    return write_dashboard(summaries, tree / "dashboard", warnings=warnings)


def test_dashboard_loads_offline_without_console_errors(browser, dashboard_page):
    messages = open_page(browser, dashboard_page)
    assert [m for m in messages if m["level"] in ("SEVERE", "WARNING")] == []
    assert browser.title == "fpga-flow runs"
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0


def test_agreement_and_resource_figures_read_from_the_dom(browser, dashboard_page):
    from selenium.webdriver.common.by import By

    open_page(browser, dashboard_page)
    assert metric(browser, "cnn_digits_pynq-z2_rf1", "csim_agreement").text == "99.78%"
    assert metric(browser, "cnn_digits_pynq-z2_rf1", "testbench_agreement").text == "99.78%"
    assert metric(browser, "cnn_digits_pynq-z2_rf4_default", "testbench_agreement").text == "95.11%"
    assert metric(browser, "cnn_digits_zcu104_rf1_vendor", "figures_source").text == "VENDOR"
    lut = browser.find_element(
        By.CSS_SELECTOR, 'section[data-run-id="cnn_digits_pynq-z2_rf1"] g[data-metric="resource"][data-resource="LUT"]')
    assert (lut.get_attribute("data-used"), lut.get_attribute("data-capacity")) == ("12000", "53200")
    assert "12,000 of 53,200 (22.6%)" in lut.text
    bar = lut.find_element(By.CSS_SELECTOR, "rect.bar")
    full_line = browser.find_element(By.CSS_SELECTOR, 'section[data-run-id="cnn_digits_pynq-z2_rf1"] line.full')
    # the bar of 22.6% ends at about a fifth of the way to the 100% line
    bar_box, line_x = bar.rect, full_line.rect["x"]
    assert 0.18 < bar_box["width"] / (line_x - bar_box["x"]) < 0.27
    skipped = browser.find_element(By.ID, "skipped").text
    assert "interrupted: incomplete run (stage: testbench), skipped" in skipped
    screenshot(browser, "dashboard.png")


def test_filters_hide_other_models_and_boards(browser, dashboard_page):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    open_page(browser, dashboard_page)

    def visible_rows() -> list[str]:
        return [row.get_attribute("data-run-id")
                for row in browser.find_elements(By.CSS_SELECTOR, "#runs-table tr[data-run-id]") if row.is_displayed()]

    assert len(visible_rows()) == 5
    Select(browser.find_element(By.ID, "filter-board")).select_by_visible_text("zcu104")
    assert visible_rows() == ["cnn_digits_zcu104_rf1_vendor"]
    assert browser.find_element(By.ID, "shown-count").text == "1 of 5 runs shown"
    assert not browser.find_element(By.CSS_SELECTOR, 'section[data-run-id="cnn_digits_pynq-z2_rf1"]').is_displayed()
    assert browser.find_element(By.CSS_SELECTOR, 'section[data-run-id="cnn_digits_zcu104_rf1_vendor"]').is_displayed()
    pareto = '#chart-pareto-lut .pt[data-run-id="{}"]'
    assert browser.find_element(By.CSS_SELECTOR, pareto.format("cnn_digits_zcu104_rf1_vendor")).is_displayed()
    assert not browser.find_element(By.CSS_SELECTOR, pareto.format("cnn_digits_pynq-z2_rf1")).is_displayed()
    Select(browser.find_element(By.ID, "filter-model")).select_by_visible_text("nautilus_mlp")
    assert visible_rows() == []
    assert browser.find_element(By.ID, "no-match").is_displayed()
    Select(browser.find_element(By.ID, "filter-board")).select_by_visible_text("all boards")
    assert visible_rows() == ["nautilus_mlp_alveo-u250_vendor"]
    assert [log for log in browser.get_log("browser") if log["level"] == "SEVERE"] == []


def test_run_page_and_empty_page(browser, tmp_path):
    from selenium.webdriver.common.by import By

    run_dir = tmp_path / "run"
    shutil.copytree(RUNS / "cnn_digits_zcu104_rf1_vendor", run_dir)
    messages = open_page(browser, write_run_page(run_dir))
    assert [m for m in messages if m["level"] == "SEVERE"] == []
    assert metric(browser, "cnn_digits_zcu104_rf1_vendor", "csim_agreement", scope="section").text == "99.78%"
    screenshot(browser, "run_page.png")
    messages = open_page(browser, write_dashboard([], tmp_path / "empty"))
    assert [m for m in messages if m["level"] == "SEVERE"] == []
    assert "the selection is empty" in browser.find_element(By.ID, "empty").text


def test_a_fitted_run_page_draws_the_plans_against_the_board(browser, tmp_path):
    """The fit's charts as drawn: for each resource, the chosen plan (within budget) left
    of the budget line, which is left of the board's; the ring on the chosen point; the
    design without --fit (faster, over budget on LUT) below and right of it."""
    from selenium.webdriver.common.by import By

    from fpga_flow.summary import read_summary

    run_dir = tmp_path / "run"
    shutil.copytree(REPO / "tests" / "data" / "fit_runs" / "cnn_digits_pynq-z2_fit", run_dir)
    messages = open_page(browser, write_run_page(run_dir))
    assert [m for m in messages if m["level"] == "SEVERE"] == []
    fit = read_summary(run_dir).fit
    assert fit.unfitted.latency_ns < fit.chosen.latency_ns and fit.unfitted.LUT > fit.board_resources["LUT"]

    def centre(element) -> tuple[float, float]:
        rect = element.rect
        return rect["x"] + rect["width"] / 2, rect["y"] + rect["height"] / 2

    for key in ("lut", "ff", "dsp", "bram_18k"):
        figure = browser.find_element(By.ID, f"fit-0-{key}")
        assert figure.is_displayed()
        chosen_x, chosen_y = centre(figure.find_element(By.CSS_SELECTOR, '[data-role="chosen"]'))
        assert centre(figure.find_element(By.CSS_SELECTOR, "circle.ring")) == pytest.approx((chosen_x, chosen_y), abs=1)
        budget_x = centre(figure.find_element(By.CSS_SELECTOR, 'line[data-limit="budget 80%"]'))[0]
        board_x = centre(figure.find_element(By.CSS_SELECTOR, 'line[data-limit="board"]'))[0]
        assert chosen_x < budget_x < board_x, key
        unfitted_x, unfitted_y = centre(figure.find_element(By.CSS_SELECTOR, '[data-role="unfitted"]'))
        assert unfitted_y > chosen_y  # faster: lower on the latency axis
        if key == "lut":
            assert unfitted_x > board_x
    rows = browser.find_elements(By.CSS_SELECTOR, 'table[data-metric="fit_plan"] tbody tr')
    assert [row.get_attribute("data-layer") for row in rows] == [layer.layer for layer in fit.layers]
    screenshot(browser, "fit_run_page.png")
