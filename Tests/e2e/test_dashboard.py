"""The dashboard in a real browser: Debian's headless Chromium, driven by Selenium, against the session's real
`tailor serve` with a finished fine-tuning job. Screenshots go to Tests/e2e/out/ (ignored by git)."""
import os
import shutil
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.support.ui import WebDriverWait

from conftest import ADMIN_KEY, BASE_MODEL, HERE

OUT = HERE / "out"
CHROMIUM = os.environ.get("TAILOR_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
DRIVER = os.environ.get("TAILOR_CHROMEDRIVER", shutil.which("chromedriver") or "/usr/bin/chromedriver")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not (Path(CHROMIUM).exists() and Path(DRIVER).exists()):
        pytest.fail(f"Chromium ({CHROMIUM}) and chromedriver ({DRIVER}) are needed: `make test-deps` installs them")
    options = Options()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,1000",
                f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(30)
    OUT.mkdir(exist_ok=True)
    yield driver
    driver.quit()


def wait(driver, timeout=30):
    # The job page redraws its header whenever the job is fetched again (events arrive), so an element found a moment
    # ago can be replaced: conditions are retried rather than failed on a stale reference.
    return WebDriverWait(driver, timeout, ignored_exceptions=(StaleElementReferenceException,))


def shot(driver, name):
    path = OUT / f"{name}.png"
    driver.save_screenshot(str(path))
    print("screenshot:", path)


def console_errors(driver):
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def test_dashboard_shows_the_job_its_loss_curve_files_and_streams_both_models(server, tuned, browser):
    d = browser
    # The key is asked for once, kept in local storage, and never put in the address.
    d.get(server.url + "/#/jobs")
    key_input = wait(d).until(EC.visibility_of_element_located((By.ID, "api-key")))
    key_input.send_keys(ADMIN_KEY)
    d.find_element(By.CSS_SELECTOR, "#key-form button[type=submit]").click()
    wait(d).until(EC.presence_of_element_located((By.ID, "jobs-table")))
    assert d.execute_script("return localStorage.getItem('tailor.apiKey')") == ADMIN_KEY
    assert ADMIN_KEY not in d.current_url
    assert tuned.id in d.find_element(By.ID, "jobs-table").text
    shot(d, "jobs")

    # The job's own page: id, status, the fine-tuned model and a loss curve drawn from the job's metrics events.
    d.get(server.url + f"/#/jobs/{tuned.id}")
    wait(d).until(EC.text_to_be_present_in_element((By.ID, "fine-tuned-model"), tuned.fine_tuned_model))
    wait(d).until(lambda drv: drv.find_element(By.ID, "job-status").get_attribute("data-status") == "succeeded")
    wait(d).until(lambda drv: tuned.id in drv.find_element(By.TAG_NAME, "h1").text)
    train = wait(d).until(lambda drv: next(
        (p for p in drv.find_elements(By.CSS_SELECTOR, "#loss-chart path.series-train")
         if int(p.get_attribute("data-points") or 0) >= 6), None))
    assert train.get_attribute("d").count("L") >= 5, "six training steps draw a line of six points"
    axis_titles = [t.text for t in d.find_elements(By.CSS_SELECTOR, "#loss-chart .axis-title")]
    assert "Training step" in axis_titles and any("loss" in t.lower() for t in axis_titles)
    wait(d).until(lambda drv: len(drv.find_elements(By.CSS_SELECTOR, "#job-events li")) >= 3)
    events = d.find_element(By.ID, "job-events").text
    assert "succeeded" in events.lower() or "fine-tuned model" in events.lower()
    assert "ckpt-step-3" in d.find_element(By.ID, "job-checkpoints").text
    shot(d, "job")

    # The files page lists the training file, and uploads one through the form.
    d.get(server.url + "/#/files")
    wait(d).until(EC.text_to_be_present_in_element((By.ID, "files-table"), tuned.training_file))
    d.find_element(By.ID, "upload-file").send_keys(str(HERE / "data" / "support.jsonl"))
    d.find_element(By.ID, "upload-button").click()
    done = wait(d).until(EC.visibility_of_element_located((By.ID, "upload-done")))
    uploaded = done.find_element(By.TAG_NAME, "code").text
    assert uploaded.startswith("file-") and d.find_element(By.ID, "upload-percent").text == "100 %"
    assert server.client().files.retrieve(uploaded).purpose == "fine-tune"
    shot(d, "files")

    # "Start a job with it" opens the form with that file chosen and the "auto" defaults explained.
    done.find_element(By.TAG_NAME, "a").click()
    wait(d).until(EC.presence_of_element_located((By.ID, "new-job-form")))
    assert d.find_element(By.ID, "training-file").get_attribute("value") == uploaded
    assert "auto" in d.find_element(By.ID, "new-job-form").text.lower()
    shot(d, "new-job")

    # The playground streams the base model and the fine-tuned model side by side.
    d.get(server.url + f"/#/playground?model={tuned.fine_tuned_model}")
    prompt = wait(d).until(EC.visibility_of_element_located((By.ID, "prompt")))
    assert d.find_element(By.ID, "model-a").get_attribute("value") == BASE_MODEL
    assert d.find_element(By.ID, "model-b").get_attribute("value") == tuned.fine_tuned_model
    max_tokens = d.find_element(By.ID, "max-tokens")
    max_tokens.clear()
    max_tokens.send_keys("12")
    prompt.send_keys("How do I reset my password?")
    d.find_element(By.ID, "send").click()
    for side in ("a", "b"):
        wait(d, 120).until(lambda drv: drv.find_element(By.ID, f"output-{side}").text.strip()
                           and "streaming" not in drv.find_element(By.ID, f"output-{side}").get_attribute("class"))
        assert "error" not in d.find_element(By.ID, f"output-{side}").get_attribute("innerHTML").lower()
    shot(d, "playground")

    # A phone-sized window still shows the job page in one column.
    d.set_window_size(390, 844)
    d.get(server.url + f"/#/jobs/{tuned.id}")
    wait(d).until(EC.presence_of_element_located((By.CSS_SELECTOR, "#loss-chart path.series-train")))
    width = d.execute_script("return document.documentElement.scrollWidth")
    assert width <= 400, f"the page is {width} px wide on a 390 px screen"
    shot(d, "job-phone")
    d.set_window_size(1280, 1000)

    assert console_errors(d) == [], console_errors(d)


def test_a_dpo_job_page_draws_its_rewards(server, client, tuned, browser):
    from conftest import wait_for_job
    from test_dpo import dpo, preference_lines, upload
    job = client.fine_tuning.jobs.create(model=BASE_MODEL, training_file=upload(client, preference_lines()).id, method=dpo(n_epochs=1))
    assert wait_for_job(client, job.id, {"succeeded", "failed", "cancelled"}).status == "succeeded"
    d = browser
    d.get(server.url + "/#/jobs")
    d.execute_script(f"localStorage.setItem('tailor.apiKey', '{ADMIN_KEY}')")   # as the first test's form left it
    d.get(server.url + f"/#/jobs/{job.id}")
    margin = wait(d).until(lambda drv: next(
        (p for p in drv.find_elements(By.CSS_SELECTOR, "#reward-chart path.series-margin")
         if int(p.get_attribute("data-points") or 0) >= 3), None))
    assert margin.get_attribute("d").count("L") >= 2, "three DPO steps draw a margin line of three points"
    assert "Reward" in [t.text for t in d.find_elements(By.CSS_SELECTOR, "#reward-chart .axis-title")]
    legend = d.find_element(By.CSS_SELECTOR, "#reward-chart").find_element(By.XPATH, "..").text
    assert "Chosen reward" in legend and "Rejected reward" in legend
    assert "DPO beta" in d.find_element(By.ID, "job-hyperparameters").text
    shot(d, "job-dpo")
    # A supervised job has no rewards to draw.
    d.get(server.url + f"/#/jobs/{tuned.id}")
    wait(d).until(EC.presence_of_element_located((By.CSS_SELECTOR, "#loss-chart path.series-train")))
    assert d.find_elements(By.ID, "reward-chart") == []
    assert console_errors(d) == [], console_errors(d)


def test_a_job_with_an_evaluation_shows_base_against_tuned_and_its_runs(server, evaluated, browser):
    from selenium.webdriver.support.ui import Select
    from conftest import EVAL_LINES
    e = evaluated.model_extra["tailor"]["evaluation"]
    d = browser
    d.get(server.url + "/#/jobs")
    d.execute_script(f"localStorage.setItem('tailor.apiKey', '{ADMIN_KEY}')")
    d.get(server.url + f"/#/jobs/{evaluated.id}")
    # The section redraws on every refresh of the job and while the runs' items arrive, so each reading of it is one
    # retried condition: taken whole from one drawing (a reference gone stale mid-way starts it again).
    def comparison(drv):
        rows = drv.find_elements(By.CSS_SELECTOR, "#comparison-examples tbody tr")
        if len(rows) != EVAL_LINES:
            return None                                  # not every item graded yet
        metrics = [m.get_attribute("data-metric") for m in drv.find_elements(By.CSS_SELECTOR, "#comparison-metrics tbody tr")]
        rouge = drv.find_element(By.CSS_SELECTOR, '#comparison-metrics tr[data-metric="rouge_l"]')
        scores = [float(rouge.find_element(By.CSS_SELECTOR, f"td.{c}").text) for c in ("base", "tuned", "delta")]
        examples = [(r.find_element(By.CSS_SELECTOR, "td.reference").text, r.get_attribute("data-index"),
                     r.get_attribute("data-delta")) for r in rows]
        return metrics, scores, examples

    def choose(select_id, value):
        wait(d).until(lambda drv: Select(drv.find_element(By.ID, select_id)).select_by_value(value) or True)

    def example_rows(drv):
        return [(r.get_attribute("data-index"), r.get_attribute("data-delta"))
                for r in drv.find_elements(By.CSS_SELECTOR, "#comparison-examples tbody tr")]

    # Per-metric scores of both models and the delta, from the two runs' output items.
    metrics, (base, tuned, delta), examples = wait(d, 60).until(comparison)
    assert metrics == ["exact_match", "rouge_l", "bleu"]
    assert abs(delta - (tuned - base)) < 0.0015
    # The examples: both answers and the reference, sorted by the largest difference first by default.
    assert all(reference.startswith("Beacon here!") for reference, _, _ in examples)
    deltas = [abs(float(x or 0)) for _, _, x in examples]
    assert deltas == sorted(deltas, reverse=True)
    choose("comparison-sort", "order")
    order = wait(d).until(lambda drv: (lambda r: r if [int(i) for i, _ in r] == list(range(EVAL_LINES)) else None)(example_rows(drv)))
    assert len(order) == EVAL_LINES
    choose("comparison-filter", "tuned")
    # Filtered when fewer rows are shown, or all of them improved (a one-element tuple: an empty list would read as "wait").
    (shown,) = wait(d).until(lambda drv: (lambda r: (r,) if len(r) < EVAL_LINES or all(float(x) > 0 for _, x in r) else None)(example_rows(drv)))
    assert all(float(x) > 0 for _, x in shown)
    shot(d, "job-evaluation")

    # The fine-tuned run's own page, where its report_url points.
    wait(d).until(lambda drv: drv.find_element(By.CSS_SELECTOR, f'#comparison-runs a[href$="{e["fine_tuned_run_id"]}"]').click() or True)
    assert wait(d).until(lambda drv: drv.current_url.endswith(f"#/evals/{e['eval_id']}/runs/{e['fine_tuned_run_id']}"))

    def run_page(drv):
        total = drv.find_element(By.CSS_SELECTOR, '#run-counts [data-count="total"] strong').text
        items = drv.find_elements(By.CSS_SELECTOR, "#run-items tbody tr")
        if total != str(EVAL_LINES) or len(items) != EVAL_LINES:
            return None                                  # the run's first drawing, before its items are fetched
        criteria = drv.find_elements(By.CSS_SELECTOR, "#run-criteria tbody tr")
        return (drv.find_element(By.ID, "run-status").get_attribute("data-status"), drv.find_element(By.ID, "run-job").text,
                [c.get_attribute("data-criterion") for c in criteria],
                [c.find_element(By.CSS_SELECTOR, "td.mean").text for c in criteria])

    status, job_id, criteria, means = wait(d).until(run_page)
    assert status == "completed" and job_id == evaluated.id
    assert criteria == ["exact_match", "rouge_l", "bleu"]
    assert all(m != "—" for m in means)
    choose("run-filter", "error")
    assert wait(d).until(lambda drv: drv.find_elements(By.CSS_SELECTOR, "#run-items tbody tr") == [] or None) is True
    shot(d, "eval-run")
    assert console_errors(d) == [], console_errors(d)
