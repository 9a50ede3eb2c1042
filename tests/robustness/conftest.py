"""Fixtures of the robustness campaign: the API fixtures, and a recorder for the report.

Each test records its class, the cases it tried and the data it lost as junit properties
(``bench/robustness_report.py`` reads them from test-output/junit.xml).
"""

from __future__ import annotations

import pytest

from tests.api.conftest import (  # noqa: F401 - fixtures shared with the API tests
    app,
    client,
    loaded,
    sample,
    seeded_app,
    seeded_settings,
    settings,
)
from tests.robustness.catalogue import CLASSES


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/robustness/" in item.nodeid:
            item.add_marker(pytest.mark.robustness)


class Campaign:
    """What one test tried and lost; written to the junit XML as properties."""

    def __init__(self, record_property) -> None:
        self._record = record_property

    def cases(self, count: int) -> None:
        """Record ``count`` cases tried (a test that records none counts as one)."""
        self._record("cases", int(count))

    def data_lost(self, count: int) -> None:
        """Record how many rows or keys were lost or wrong; record it before asserting it is 0."""
        self._record("data_lost", int(count))


@pytest.fixture(autouse=True)
def _campaign_class(request: pytest.FixtureRequest, record_property) -> None:
    marker = request.node.get_closest_marker("campaign")
    if marker is None:
        pytest.fail("every robustness test needs @pytest.mark.campaign(<class id>)")
    (class_id,) = marker.args
    assert class_id in CLASSES, f"unknown campaign class {class_id!r}"
    record_property("campaign_class", class_id)


@pytest.fixture
def campaign(record_property) -> Campaign:
    """The recorder of cases tried and data lost for this test."""
    return Campaign(record_property)
