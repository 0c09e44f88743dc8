"""Modules that moved keep their old names: the same module, with a DeprecationWarning naming the new place."""

import importlib
import inspect
import re
import sys

import pytest

import microgrid

MOVED = sorted(microgrid._MOVED.items())


def _forget(monkeypatch, old):
    """As in a fresh interpreter: the old name neither imported nor an attribute yet."""
    monkeypatch.delitem(sys.modules, f"microgrid.{old}", raising=False)
    if old in vars(microgrid):  # not hasattr: that would ask the package, which warns
        monkeypatch.delattr(microgrid, old)


def _warning_about(old, new):
    return pytest.warns(DeprecationWarning, match=rf"^microgrid\.{old} has moved to microgrid\.{re.escape(new)};")


@pytest.mark.parametrize("old, new", MOVED)
def test_import_statement_gives_the_new_module_and_warns(old, new, monkeypatch):
    _forget(monkeypatch, old)
    module = importlib.import_module(f"microgrid.{new}")
    namespace = {}
    with _warning_about(old, new):
        exec(f"import microgrid.{old} as alias", namespace)
    assert namespace["alias"] is module
    assert sys.modules[f"microgrid.{old}"] is module and module.__name__ == f"microgrid.{new}"


@pytest.mark.parametrize("old, new", MOVED)
def test_from_import_gives_the_same_objects_and_warns(old, new, monkeypatch):
    _forget(monkeypatch, old)
    module = importlib.import_module(f"microgrid.{new}")
    names = module.__all__
    namespace = {}
    with _warning_about(old, new):
        exec(f"from microgrid.{old} import {', '.join(names)}", namespace)
    assert all(namespace[name] is getattr(module, name) for name in names)


@pytest.mark.parametrize("old, new", MOVED)
def test_attribute_access_gives_the_new_module_and_warns(old, new, monkeypatch):
    _forget(monkeypatch, old)
    module = importlib.import_module(f"microgrid.{new}")
    with _warning_about(old, new):
        assert getattr(microgrid, old) is module
    _forget(monkeypatch, old)
    with _warning_about(old, new):
        exec(f"from microgrid import {old} as alias", namespace := {})
    assert namespace["alias"] is module


def test_the_warning_points_at_the_importing_line(monkeypatch):
    _forget(monkeypatch, "losses")
    with pytest.warns(DeprecationWarning) as caught:
        line = inspect.currentframe().f_lineno + 1
        import microgrid.losses  # noqa: F401
    assert [(w.filename, w.lineno) for w in caught] == [(__file__, line)]


def test_names_that_never_existed_still_fail():
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("microgrid.no_such_module")
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        microgrid.no_such_name


def test_lazy_top_level_names_come_from_the_new_places():
    from microgrid.nn import mlp, pytorch, train

    assert (microgrid.MLP, microgrid.Layer, microgrid.Neuron) == (mlp.MLP, mlp.Layer, mlp.Neuron)
    assert (microgrid.fit, microgrid.to_torch, microgrid.from_torch) == (train.fit, pytorch.to_torch, pytorch.from_torch)


def test_lazy_drawing_names_come_from_the_drawing_package():
    from microgrid.drawing import display, explain, graph, steps

    assert (microgrid.draw, microgrid.to_svg, microgrid.draw_dot) == (display.draw, display.to_svg, graph.draw_dot)
    assert (microgrid.explain_backward, microgrid.step_backward) == (explain.explain_backward, steps.step_backward)


def test_lazy_symbolic_names_come_from_the_symbolic_package():
    from microgrid import network_equations
    from microgrid.symbolic import chainrule

    assert (microgrid.derive, microgrid.backprop_equations) == (chainrule.derive, network_equations.backprop_equations)


def test_every_public_name_of_the_old_symbolic_module_is_still_there():
    # symbolic.py's public names before the split, each now defined in one module of the package.
    old_names = """to_sympy diff check Verdict Counterexample sigmoid tidy simplify_gradient algebra_is_cheap latex
        symbol Label label_of definitions find_node evaluate Budget BudgetExceeded program number claim_names
        parse_claim simplify_within SYMPY_FUNCTIONS Claim CHECK_SECONDS SIMPLIFY_SECONDS EVALUATE_DIGITS
        AGREE_RELATIVE SAMPLE_SCALES FACTOR_MAX_SYMBOLS FACTOR_MAX_OPS ALGEBRA_MAX_DIGITS ALGEBRA_MAX_DEGREE
        ALGEBRA_MAX_TERMS""".split()
    from microgrid import symbolic
    from microgrid.symbolic.budget import Budget
    from microgrid.symbolic.checker import check
    from microgrid.symbolic.differentiate import diff
    from microgrid.symbolic.programs import program

    assert symbolic.__all__[:19] == old_names[:19]  # in the same order; new names come after
    assert all(hasattr(symbolic, name) for name in old_names)
    assert (symbolic.check, symbolic.diff, symbolic.Budget, symbolic.program) == (check, diff, Budget, program)
    namespace = {}
    exec("from microgrid.symbolic import *", namespace)
    assert all(namespace[name] is getattr(symbolic, name) for name in symbolic.__all__)
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        symbolic.no_such_name


def test_the_parser_labels_and_seeds_do_not_load_sympy():
    import subprocess

    code = ("import sys, microgrid.symbolic, microgrid.symbolic.seeds, microgrid.symbolic.expression, "
            "microgrid.nn, microgrid.drawing\nprint('sympy' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False"]


def test_every_public_name_of_the_old_viz_module_is_in_the_drawing_package(monkeypatch):
    # viz's __all__ and its other public names before the split (its `command` is now microgrid.cli's).
    old_names = """MAX_NODES FULL_EFFORT_SIZE TIME_LIMIT Digraph GraphTooLargeError GraphvizNeededError
        RendererUnavailableError RenderTimeoutError RenderFailedError COLUMN_PX LEGIBLE_SCALE AUTO_LAYOUTS
        Drawing draw_dot laid_out choose_layout candidate_layouts fit_scale svg_width_px draw to_svg
        choose_renderer render_svg node_kinds layout_size COLOURS pretty_label record_text""".split()
    import microgrid.drawing as drawing

    assert set(old_names) <= set(drawing.__all__)
    _forget(monkeypatch, "viz")
    with pytest.warns(DeprecationWarning):
        import microgrid.viz as viz
    assert all(getattr(viz, name) is getattr(drawing, name) for name in old_names)


def test_importing_explain_does_not_load_graphviz():
    import subprocess

    code = "import sys, microgrid\nmicrogrid.explain_backward\nprint('graphviz' in sys.modules)\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False"]


def test_reloading_the_package_keeps_one_finder():
    import subprocess

    code = (
        "import importlib, sys, warnings, microgrid\n"
        "importlib.reload(microgrid); importlib.reload(microgrid)\n"
        "print(sum(type(f).__qualname__ == '_MovedModules' for f in sys.meta_path))\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    import microgrid.optim\n"
        "print(len(caught), microgrid.optim is sys.modules['microgrid.nn.optim'])\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["1", "1", "True"]
