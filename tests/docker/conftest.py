"""The docker group: the committed compose files, Dockerfiles and scripts on a real engine.

``engine`` is the Docker Engine (found running, or started for this group and stopped when its
last test ends); ``images`` are the base images our files name: locally built stand-ins by
default, the official ones with ``RETAIL_TEST_IMAGES=official`` (GitHub's runners). Under
CI=true a missing engine is a failure, never a skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import require
from tests.docker import figures, standins
from tests.docker.engine import Engine, docker_engine

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "test-output"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test of this folder ``docker``."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.docker)


@pytest.fixture(scope="package")
def engine() -> Iterator[Engine]:
    """The Docker Engine, running for as long as the group's tests do."""
    try:
        context = docker_engine(OUTPUT / "dockerd.log")
        running = context.__enter__()
    except Exception as exc:  # noqa: BLE001 - any failure to get an engine means no engine
        require("Docker Engine", exc)
    try:
        yield running
    finally:
        context.__exit__(None, None, None)


@pytest.fixture(scope="package")
def images(engine: Engine) -> dict[str, str]:
    """The variables that name the base images: stand-ins built here, or the official ones."""
    wanted = os.environ.get("RETAIL_TEST_IMAGES", "standin")
    if wanted == "official":
        chosen = standins.official_images()
    elif wanted == "standin":
        chosen = standins.ensure_standins()
    else:
        pytest.fail(f"RETAIL_TEST_IMAGES must be standin or official, not {wanted!r}")
    for tag, seconds in chosen.built.items():
        figures.record(f"stand-in build s: {tag}", seconds)
    if wanted == "standin":
        figures.record("stand-ins built this run", len(chosen.built))
        for tag in chosen.images.values():
            figures.record(f"image MB: {tag}", round(standins.image_size_mb(tag)))
    return chosen.env()


def pytest_terminal_summary(terminalreporter) -> None:
    """Print what the docker group measured, and keep it beside the JUnit XML."""
    if not figures.FIGURES:
        return
    terminalreporter.section("docker group figures")
    for line in figures.report_lines():
        terminalreporter.write_line(line)
    figures.write_json(OUTPUT / "docker-figures.json")
