"""The notebooks as a learner sees them: JupyterLab in Chromium at 1280 px.

A JupyterLab server is started on 127.0.0.1 for a copy of the notebooks
(trusted, as after running them, so drawings and HTML show); each notebook
is opened with its committed outputs, and every output is measured: none may
be wider than its column, and every drawing must keep its text legible.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
from browser import unavailable

NOTEBOOKS = sorted((Path(__file__).parents[2] / "notebooks").glob("*.ipynb"))
WINDOW = {"width": 1280, "height": 900}
# microgrid's drawings write labels at 11 pt, 14.7 px at scale 1: an <img>
# drawing scaled below 9 / 14.7 = 0.61 has text under 9 px, too small to read.
MIN_TEXT_PX = 9.0
MIN_DRAWING_SCALE = MIN_TEXT_PX / (11 * 4 / 3)

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _settings(root: Path) -> Path:
    """JupyterLab settings for a test: every cell rendered (no windowing), no news pop-up."""
    folder = root / "settings" / "@jupyterlab"
    for extension, file, values in [
        ("notebook-extension", "tracker", {"windowingMode": "none"}),
        ("apputils-extension", "notification", {"fetchNews": "false", "checkForUpdates": False}),
    ]:
        (folder / extension).mkdir(parents=True, exist_ok=True)
        (folder / extension / f"{file}.jupyterlab-settings").write_text(json.dumps(values))
    return root / "settings"


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory):
    """A JupyterLab server on 127.0.0.1 serving trusted copies of the notebooks: (base URL, token)."""
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        unavailable("JupyterLab is not installed (pip install -e '.[test]')")
    root = tmp_path_factory.mktemp("lab")
    shutil.copytree(NOTEBOOKS[0].parent, root / "notebooks")
    env = dict(
        os.environ,
        JUPYTERLAB_SETTINGS_DIR=str(_settings(root)),
        JUPYTER_CONFIG_DIR=str(root / "config"),
        JUPYTER_DATA_DIR=str(root / "data"),
        JUPYTER_RUNTIME_DIR=str(root / "runtime"),
    )
    jupyter = [sys.executable, "-m", "jupyter"]
    copies = sorted(str(p) for p in (root / "notebooks").glob("*.ipynb"))
    subprocess.run([*jupyter, "trust", *copies], env=env, check=True, capture_output=True, timeout=60)
    port, token = _free_port(), secrets.token_hex(16)
    log = open(root / "server.log", "w")  # noqa: SIM115 (closed in the finally below, once the server is gone)
    server = subprocess.Popen(
        [
            *jupyter, "lab", "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
            "--LabApp.extension_manager=readonly", "--LabApp.news_url=",
        ],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"{base}/api?token={token}", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        "JupyterLab did not start: " + (root / "server.log").read_text()[-2000:]
                    ) from None
                time.sleep(0.3)
        yield base, token
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def _output_count(path: Path) -> int:
    nb = nbformat.read(path, as_version=4)
    return sum(len(cell.outputs) for cell in nb.cells if cell.cell_type == "code")


# Run in the page: every output of the visible notebook, with what overflows
# its column and the smallest scale or text size of each drawing.
_MEASURE = """() => {
  const panel = [...document.querySelectorAll('.jp-NotebookPanel')].find(p => p.offsetParent !== null);
  const results = [];
  panel.querySelectorAll('.jp-Cell').forEach((cell, index) => {
    cell.querySelectorAll('.jp-OutputArea-output').forEach(output => {
      const column = output.getBoundingClientRect();
      const wide = [...output.querySelectorAll('*')]
        .map(e => e.getBoundingClientRect()).filter(r => r.width > 0)
        .reduce((right, r) => Math.max(right, r.right), column.right);
      const result = {cell: index, kind: output.className, scrollWidth: output.scrollWidth,
                      clientWidth: output.clientWidth, overhang: Math.round(wide - column.right)};
      const img = output.querySelector('img');
      if (img && img.naturalWidth) result.scale = img.getBoundingClientRect().width / img.naturalWidth;
      const texts = [...output.querySelectorAll('svg text')].map(t => t.getBoundingClientRect().height)
        .filter(h => h > 0);
      if (texts.length) result.textPx = Math.min(...texts);
      results.push(result);
    });
  });
  return results;
}"""


def _open(browser, jupyterlab, path: Path):
    base, token = jupyterlab
    page = browser.new_page(viewport=WINDOW)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # A workspace of its own, reset: only this notebook is open (none restored from an earlier page).
    page.goto(f"{base}/lab/workspaces/{path.stem}/tree/notebooks/{path.name}?reset&token={token}")
    expected = _output_count(path)
    page.wait_for_function(
        "n => { const p = [...document.querySelectorAll('.jp-NotebookPanel')].find(p => p.offsetParent);"
        " return p && p.querySelectorAll('.jp-OutputArea-output').length >= n; }",
        arg=expected,
        timeout=90_000,
    )
    # LaTeX is typeset by MathJax after the outputs appear; images load after that.
    # (Math in Markdown outputs too: a derivation shows as Markdown with $$ blocks.)
    page.wait_for_function(
        "() => [...document.querySelectorAll('.jp-RenderedLatex')].every(e => e.querySelector('mjx-container'))"
        " && [...document.querySelectorAll('.jp-OutputArea-output .jp-RenderedMarkdown')]"
        "      .every(e => !e.textContent.includes('$') || e.querySelector('mjx-container'))"
        " && [...document.querySelectorAll('.jp-OutputArea-output img')].every(i => i.complete)",
        timeout=90_000,
    )
    page.wait_for_timeout(500)
    return page, errors


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_output_fits_its_column_at_1280_px(browser, jupyterlab, path, tmp_path):
    page, errors = _open(browser, jupyterlab, path)
    try:
        outputs = page.evaluate(_MEASURE)
        assert len(outputs) == _output_count(path), f"every committed output is on the page: {outputs}"
        too_wide = [o for o in outputs if o["scrollWidth"] > o["clientWidth"] + 1 or o["overhang"] > 1]
        too_small = [
            o for o in outputs if o.get("scale", 1.0) < MIN_DRAWING_SCALE or o.get("textPx", MIN_TEXT_PX) < MIN_TEXT_PX
        ]
        if too_wide or too_small:
            page.screenshot(path=str(tmp_path / f"{path.stem}.png"), full_page=True)
        if os.environ.get("MICROGRID_SCREENSHOTS"):  # to look at: each output, as a learner sees it
            page.set_viewport_size({"width": WINDOW["width"], "height": 12000})  # whole outputs, not scrolled
            page.wait_for_timeout(1000)
            for i, output in enumerate(
                page.query_selector_all(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output")
            ):
                output.screenshot(path=str(Path(os.environ["MICROGRID_SCREENSHOTS"]) / f"{path.stem}-{i:02d}.png"))
        assert not too_wide, f"wider than the column: {too_wide}"
        assert not too_small, f"text too small to read: {too_small}"
        assert not errors, errors
    finally:
        page.close()


def test_the_nb01_stepper_fits_the_notebook_area_at_1280_by_900(browser, jupyterlab):
    path = next(p for p in NOTEBOOKS if p.stem.startswith("01"))
    page, errors = _open(browser, jupyterlab, path)
    try:
        stepper = page.wait_for_selector(".mg-stepper", timeout=60_000)
        stepper.scroll_into_view_if_needed()
        page.wait_for_timeout(500)
        sizes = page.evaluate("""() => {
          const box = document.querySelector('.mg-stepper'), area = document.querySelector(
            '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-WindowedPanel-outer') || box.closest('.jp-Notebook');
          const svg = box.querySelector('svg'), texts = [...svg.querySelectorAll('text')];
          const canvas = box.querySelector('.mg-canvas');
          return {box: box.getBoundingClientRect().height, area: area.clientHeight,
                  scrolls: canvas.scrollHeight > canvas.clientHeight + 1 || canvas.scrollWidth > canvas.clientWidth + 1,
                  smallest: Math.min(...texts.map(t => parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a))};
        }""")
        screens = Path(__file__).parents[2] / ".pytest_cache" / "microgrid-screens"
        screens.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(screens / "nb01-stepper-jupyterlab.png"))
        assert sizes["box"] <= sizes["area"] and not sizes["scrolls"], sizes
        assert sizes["smallest"] >= MIN_TEXT_PX, sizes
        assert not errors, errors
    finally:
        page.close()
