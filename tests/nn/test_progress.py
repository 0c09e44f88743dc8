"""fit's progress bar: on stderr in a terminal; in Jupyter one output updated in place, never a stderr stream."""

from __future__ import annotations

import IPython
import IPython.display
import nbformat
import pytest
from nbclient import NotebookClient

from microgrid.nn import MLP
from microgrid.nn.data import make_moons
from microgrid.nn.train import OutputLine, fit, notebook_line


class Handle:
    def __init__(self, shown):
        self.shown = shown

    def update(self, bundle, raw=False):
        assert raw
        self.shown.append(("update", bundle))


@pytest.fixture
def kernel(monkeypatch):
    """As in a Jupyter kernel: get_ipython() has a kernel; display() records what it is given."""
    shown = []

    def display(bundle, raw=False, display_id=None):
        assert raw and display_id is True
        shown.append(("display", bundle))
        return Handle(shown)

    monkeypatch.setattr(IPython, "get_ipython", lambda: type("Shell", (), {"kernel": object()})())
    monkeypatch.setattr(IPython.display, "display", display)
    return shown


def test_outside_a_kernel_there_is_no_output_line(monkeypatch):
    assert notebook_line() is None
    monkeypatch.setattr(IPython, "get_ipython", lambda: type("TerminalShell", (), {})())  # IPython in a terminal
    assert notebook_line() is None


def test_in_a_kernel_the_bar_is_one_output_updated_to_its_last_state(kernel, capsys):
    assert isinstance(notebook_line(), OutputLine)
    X, labels = make_moons(10, seed=0)
    fit(MLP(2, [3, 1], seed=0), X, [2 * t - 1 for t in labels], epochs=3, progress=True)
    assert capsys.readouterr().err == ""
    assert [kind for kind, _ in kernel][:1] == ["display"] and {kind for kind, _ in kernel[1:]} <= {"update"}
    last = kernel[-1][1]
    assert set(last) == {"text/plain"}
    text = last["text/plain"]
    assert text.startswith("training: 100%") and "3/3" in text and "loss=" in text and "acc=" in text
    assert "\r" not in text and text == text.strip()


def test_the_line_keeps_the_latest_refresh_only(kernel):
    line = OutputLine()
    line.write("\rtraining:  50%|#####     | 1/2")
    line.write("\rtraining: 100%|##########| 2/2   ")
    line.write("\n")  # tqdm's last write on close: nothing new to show
    assert kernel == [
        ("display", {"text/plain": "training:  50%|#####     | 1/2"}),
        ("update", {"text/plain": "training: 100%|##########| 2/2"}),
    ]


@pytest.mark.slow
def test_in_a_real_kernel_the_saved_notebook_holds_the_finished_bar_and_no_stderr(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "from microgrid.nn.data import make_moons\n"
            "from microgrid.nn import MLP\n"
            "from microgrid.nn.train import fit\n"
            "X, t = make_moons(10, seed=0)\n"
            "h = fit(MLP(2, [3, 1], seed=0), X, [2 * v - 1 for v in t], epochs=4)\nprint('done')"
        )
    ]
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = nb.cells[0].outputs
    assert not [o for o in outputs if o.output_type == "stream" and o.name == "stderr"]
    (bar,) = [o for o in outputs if o.output_type == "display_data"]
    assert set(bar.data) == {"text/plain"}
    assert bar.data["text/plain"].startswith("training: 100%") and "4/4" in bar.data["text/plain"]
