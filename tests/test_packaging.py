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
