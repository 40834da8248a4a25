"""`inpaint serve`: the API through FastAPI's test client, and the page in a real browser."""
from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from inpaint.api.inpainter import cli_methods
from inpaint.api.serve import create_app
from inpaint.data.synthetic import synthetic_face

pytest_plugins = ["fixtures_model"]  # the session-scoped `tiny_model` fixture

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = Path(sys.executable).with_name("inpaint")  # installed by pyproject's [project.scripts]
MAGENTA = np.array([255, 0, 255], np.uint8)  # hole content no method will reproduce
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), Path("/usr/bin/chromedriver")


def png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def case(width: int = 40, height: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """A noise photo with a magenta box hole, and the hole (True = hole)."""
    image = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    hole = np.zeros((height, width), bool)
    hole[height // 4:height * 3 // 4, width // 4:width * 3 // 4] = True
    image[hole] = MAGENTA
    return image, hole


def post(client: TestClient, image: bytes, mask: bytes | None, **fields: str):
    fields.setdefault("method", "telea")  # no model needed
    files = {"image": ("photo.png", image, "image/png")}
    if mask is not None:
        files["mask"] = ("photo_mask.png", mask, "image/png")
    return client.post("/api/inpaint", files=files, data=fields)


def post_case(client: TestClient, width: int = 40, height: int = 30, **fields: str):
    image, hole = case(width, height)
    return post(client, png(image), png(np.where(hole, 255, 0).astype(np.uint8)), **fields)


@pytest.fixture(scope="module")
def client(tiny_model: Path) -> TestClient:
    """Every method available: the tiny model's folder and the baselines beside it."""
    return TestClient(create_app(models_dir=tiny_model.parent))


@pytest.fixture
def bare_client(tmp_path: Path) -> TestClient:
    """No models at all (an empty models folder): only the classical methods run."""
    return TestClient(create_app(models_dir=tmp_path, max_pixels=40 * 30))


def test_page_is_one_offline_file():
    app = create_app(models_dir=Path("no_models"))
    page = TestClient(app).get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "://" not in page.text, "the page must load nothing from the network"
    assert TestClient(app).get("/docs").status_code == 404  # Swagger UI comes from a CDN


def test_missing_models_disable_their_methods_with_the_reason(bare_client, tmp_path):
    methods = {m["name"]: m for m in bare_client.get("/api/methods").json()["methods"]}
    assert list(methods) == cli_methods()
    assert [n for n, m in methods.items() if m["available"]] == ["telea", "ns", "biharmonic"]
    assert "model folder not found" in methods["ours"]["reason"]
    assert methods["pconv"]["reason"] == (f"{tmp_path / 'pconv.pt'}: model file not found; "
                                          "`dvc repro train_pconv` writes models/pconv.pt")
    answer = post_case(bare_client, method="pconv")
    assert answer.status_code == 400
    assert answer.json()["detail"] == f"method pconv is unavailable: {methods['pconv']['reason']}"


@pytest.mark.slow
@pytest.mark.parametrize("method,extra", [(m, {}) for m in cli_methods()]
                         + [("ours", {"refine_steps": "2"})])
def test_every_method_keeps_known_pixels_bit_for_bit(client, method, extra):
    assert all(m["available"] for m in client.get("/api/methods").json()["methods"])
    image, hole = case(70, 45)
    answer = post(client, png(image), png(np.where(hole, 255, 0).astype(np.uint8)),
                  method=method, **extra)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "image/png"
    assert float(answer.headers["x-inpaint-seconds"]) >= 0
    assert json.loads(answer.headers["x-inpaint-warnings"]) == []
    result = np.asarray(Image.open(io.BytesIO(answer.content)))
    assert result.shape == image.shape
    assert np.array_equal(result[~hole], image[~hole])
    assert (result[hole] != MAGENTA).any(axis=-1).mean() > 0.9, "the hole is filled"


def test_image_modes_come_back_as_the_command_writes_them(bare_client):
    image, hole = case()
    mask = png(np.where(hole, 255, 0).astype(np.uint8))
    alpha = np.tile(np.linspace(0, 255, 40).astype(np.uint8), (30, 1))
    sixteen = image[..., 0].astype(np.uint16) * 257
    for source, mode in ((np.dstack([image, alpha]), "RGBA"), (sixteen, "I;16")):
        answer = post(bare_client, png(source), mask, method="telea")
        assert answer.status_code == 200, answer.text
        result = Image.open(io.BytesIO(answer.content))
        assert result.mode == mode
        assert np.array_equal(np.asarray(result)[~hole], source[~hole])


def test_surprising_mask_answers_with_the_warning(bare_client):
    image, _ = case()
    answer = post(bare_client, png(image), png(np.zeros((30, 40), np.uint8)), method="ns")
    assert answer.status_code == 200
    assert "no hole pixels" in json.loads(answer.headers["x-inpaint-warnings"])[0]
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(answer.content))), image)


def not_an_image(client):
    return post(client, b"GIF89a but not really", png(case()[0])), 400, \
        "photo.png: cannot decode image"


def mask_of_another_size(client):
    return post(client, png(case()[0]), png(np.zeros((20, 30), np.uint8))), 422, \
        "photo_mask.png: mask is 30x20 but the image is 40x30"


def too_many_pixels(client):  # the fixture's limit is 40 x 30
    return post_case(client, width=41), 413, "photo.png: 41x30 is 1,230 pixels; this " \
        "server takes at most 1,200 (--max-pixels)"


def upload_too_large(client):
    return post(client, bytes(20 << 20), png(case()[0])), 413, "upload of"


def unknown_method(client):
    return (post_case(client, method="nope"), 400,
            "unknown method 'nope'; methods: ours, ours_extended, optim")


def scoring_variant(client):
    return post_case(client, method="ours_raw"), 400, "unknown method 'ours_raw'"


def refine_steps_of_another_method(client):
    return post_case(client, method="telea", refine_steps="3"), 400, \
        "only method 'ours' refines"


def negative_refine_steps(client):
    return post_case(client, method="ours", refine_steps="-1"), 400, \
        "refine_steps='-1': expected a whole number"


def superscript_refine_steps(client):  # a digit to str.isdigit, not to int
    return post_case(client, method="ours", refine_steps="\u00b2"), 400, \
        "expected a whole number"


def unknown_upsampler(client):
    return post_case(client, method="telea", upsample="lanczos"), 400, \
        "unknown upsample 'lanczos'; upsamplers: cra, bicubic"


def no_mask(client):
    return post(client, png(case()[0]), None), 400, "no 'mask' file in the form"


@pytest.mark.parametrize("bad", [not_an_image, mask_of_another_size, too_many_pixels,
                                 upload_too_large, unknown_method, scoring_variant,
                                 refine_steps_of_another_method, negative_refine_steps,
                                 superscript_refine_steps, unknown_upsampler, no_mask],
                         ids=lambda f: f.__name__)
def test_bad_input_gets_a_4xx_with_one_line_and_the_server_keeps_serving(bare_client, bad):
    answer, status, says = bad(bare_client)
    assert answer.status_code == status, answer.text
    detail = answer.json()["detail"]
    assert says in detail and "\n" not in detail, detail
    assert post_case(bare_client, method="telea").status_code == 200


def test_requests_past_the_queue_are_turned_away(tmp_path):
    app = create_app(models_dir=tmp_path, max_requests=2)
    client = TestClient(app)
    for _ in range(2):  # two requests admitted and still running
        assert app.state.admission.acquire(blocking=False)
    answer = post_case(client, method="telea")
    assert answer.status_code == 429 and "busy: 2 requests" in answer.json()["detail"]
    app.state.admission.release()
    assert post_case(client, method="telea").status_code == 200


def test_uploads_stay_in_memory(monkeypatch, tmp_path):
    """Starlette would spool an upload above 1 MB to a temporary file; this one is 3 MB."""
    def no_disk(*args, **kwargs):
        raise AssertionError("an upload was spooled to disk")
    monkeypatch.setattr(tempfile, "TemporaryFile", no_disk)
    client = TestClient(create_app(models_dir=tmp_path))
    image = np.random.default_rng(1).integers(0, 256, (1000, 1000, 3), dtype=np.uint8)
    hole = np.zeros((1000, 1000), bool)
    hole[400:420, 400:420] = True
    upload = png(image)
    assert len(upload) > 2 << 20
    answer = post(client, upload, png(np.where(hole, 255, 0).astype(np.uint8)), method="telea")
    assert answer.status_code == 200, answer.text


def test_the_command_dispatches_serve_and_keeps_the_web_stack_out_of_the_rest():
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    usage = subprocess.run([str(SCRIPT), "serve", "--help"], env=env, capture_output=True,
                           text=True, timeout=600, check=False)
    assert usage.returncode == 0, usage.stderr
    assert "--max-pixels" in usage.stdout and "--models-dir" in usage.stdout
    check = "import sys, inpaint.api.cli; assert 'fastapi' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", check], env=env, timeout=600).returncode == 0


# ---- the page in a real browser ----

def address(server: subprocess.Popen) -> str:
    """The address `inpaint serve` prints once it listens (on a free port: --port 0)."""
    for line in server.stdout:
        if line.startswith("inpaint serve: open http://"):
            return line.split()[3]
    pytest.fail(f"inpaint serve exited with status {server.wait()} before listening")


def chrome(tmp_path: Path):
    """Debian's chromium through Debian's chromedriver, headless, never Selenium Manager."""
    if CHROMIUM is None or not CHROMEDRIVER.is_file():
        pytest.skip("no chromium and chromium-driver (.ci/run installs them with apt-get)")
    webdriver = pytest.importorskip("selenium.webdriver")
    os.environ["SE_AVOID_STATS"] = "true"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1360,1000",
                 f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # the page's console
    options.add_experimental_option("prefs", {
        "download.default_directory": str(tmp_path / "downloads"),
        "download.prompt_for_download": False})
    service = webdriver.ChromeService(executable_path=str(CHROMEDRIVER))
    return webdriver.Chrome(options=options, service=service)


def downloaded(folder: Path, name: str, timeout: float = 30) -> np.ndarray:
    path = folder / name
    deadline = time.monotonic() + timeout
    while not path.is_file() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert path.is_file(), f"{name} was not downloaded: {list(folder.glob('*'))}"
    return np.asarray(Image.open(path))


@pytest.mark.slow
def test_page_in_a_browser_paints_runs_two_methods_and_downloads(tiny_model, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    photo = synthetic_face(0, 5, 384)[32:352]  # 384 x 320, synthetic: never ../shared data
    photo_path = tmp_path / "face.png"
    Image.fromarray(photo).save(photo_path)
    server = subprocess.Popen(
        [str(SCRIPT), "serve", "--port", "0", "--models-dir", str(tiny_model.parent)],
        env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    driver = None
    try:
        url = address(server)
        assert url.startswith("http://127.0.0.1:"), "the default is this machine only"
        driver = chrome(tmp_path)
        wait = WebDriverWait(driver, 600)  # generous: the machine may be shared and busy
        driver.get(url)
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#methods input"))
        driver.find_element(By.ID, "photo-input").send_keys(str(photo_path))
        status = driver.find_element(By.ID, "status")
        wait.until(lambda d: status.get_attribute("data-state") == "ready")

        canvas = driver.find_element(By.ID, "mask")  # offsets from its centre, screen pixels
        ActionChains(driver).move_to_element_with_offset(canvas, -90, -20).click_and_hold() \
            .move_by_offset(60, 10).move_by_offset(60, 10).move_by_offset(60, -5).release() \
            .perform()
        for box in driver.find_elements(By.CSS_SELECTOR, "#methods input"):
            if box.is_selected() != (box.get_attribute("value") in ("ours", "telea")):
                box.click()
        driver.find_element(By.ID, "run").click()
        wait.until(lambda d: status.get_attribute("data-state") == "done")
        assert "error" not in status.get_attribute("class"), status.text
        results = driver.find_elements(By.CSS_SELECTOR, "img.result-image")
        wait.until(lambda d: all(d.execute_script("return arguments[0].naturalWidth", r) == 384
                                 for r in results))
        assert [r.get_attribute("alt") for r in results] == ["ours result", "telea result"]
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {  # the whole page
            "width": 1360, "height": height, "deviceScaleFactor": 1, "mobile": False})
        # the README's picture is refreshed only on request: a test run leaves the tree clean
        screenshot = (ROOT / "reports" / "web.png" if os.environ.get("INPAINT_SCREENSHOT")
                      else tmp_path / "web.png")
        driver.save_screenshot(str(screenshot))
        assert screenshot.stat().st_size > 10_000

        driver.find_element(By.CSS_SELECTOR, "[data-method=telea] a[download]").click()
        driver.find_element(By.ID, "mask-download").click()
        result = downloaded(tmp_path / "downloads", "face_telea.png")
        mask = downloaded(tmp_path / "downloads", "face_mask.png")
        hole = (mask[..., 0] if mask.ndim == 3 else mask) >= 128
        assert set(np.unique(mask)) == {0, 255}, "the mask file is binary"
        assert 0.02 < hole.mean() < 0.3, "the stroke is in the mask"
        assert result.shape == photo.shape and np.array_equal(result[~hole], photo[~hole])

        results[1].click()  # the before / after view
        assert driver.find_element(By.ID, "compare").is_displayed()
        errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
        assert not errors, errors
    finally:
        if driver is not None:
            driver.quit()
        server.terminate()
        server.communicate(timeout=60)
