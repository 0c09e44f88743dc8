"""What `import microgrid` offers: the lazy names come from their modules, and loading stays light."""

import importlib
import subprocess
import sys

import pytest

import microgrid


def test_names_that_do_not_exist_fail():
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("microgrid.no_such_module")
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        _ = microgrid.no_such_name


def test_lazy_top_level_names_come_from_the_nn_package():
    from microgrid.nn import mlp, pytorch, train

    assert (microgrid.MLP, microgrid.Layer, microgrid.Neuron) == (mlp.MLP, mlp.Layer, mlp.Neuron)
    assert (microgrid.fit, microgrid.to_torch, microgrid.from_torch) == (
        train.fit,
        pytorch.to_torch,
        pytorch.from_torch,
    )


def test_lazy_drawing_names_come_from_the_drawing_package():
    from microgrid.drawing import display, dot, explain, steps

    assert (microgrid.draw, microgrid.to_svg, microgrid.draw_dot) == (display.draw, display.to_svg, dot.draw_dot)
    assert (microgrid.explain_backward, microgrid.step_backward) == (explain.explain_backward, steps.step_backward)


def test_lazy_symbolic_names_come_from_where_they_are_built():
    from microgrid import network_equations
    from microgrid.symbolic import chainrule

    assert (microgrid.derive, microgrid.backprop_equations) == (chainrule.derive, network_equations.backprop_equations)


def test_the_parser_labels_and_seeds_do_not_load_sympy():
    code = (
        "import sys, microgrid.symbolic, microgrid.symbolic.seeds, microgrid.symbolic.parsing, "
        "microgrid.nn, microgrid.drawing\nprint('sympy' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False"]


def test_importing_explain_does_not_load_graphviz():
    code = "import sys, microgrid\nmicrogrid.explain_backward\nprint('graphviz' in sys.modules)\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False"]
