"""The version is kept in one place (backend/retail_backend/version.py)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from retail_backend.api.openapi import document
from retail_backend.version import __version__

ROOT = Path(__file__).resolve().parents[2]


def test_the_openapi_document_carries_the_package_version():
    assert re.fullmatch(r"\d+\.\d+\.\d+", __version__)
    assert document()["info"]["version"] == __version__


def test_the_root_pyproject_reads_the_version_from_the_backend_instead_of_keeping_one():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    dynamic = project["tool"]["setuptools"]["dynamic"]["version"]
    assert dynamic == {"attr": "retail_backend.version.__version__"}
