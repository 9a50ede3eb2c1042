"""RFC 8288 Link headers on the paged lists, right behind nginx's /api prefix too."""

from __future__ import annotations

import re

import pytest

LINK = re.compile(r'<([^>]+)>; rel="(\w+)"')


def links(answer) -> dict[str, str]:
    return {rel: url for url, rel in LINK.findall(answer.headers["Link"])}


@pytest.fixture
def seeded_client(seeded_app):
    client = seeded_app.test_client()
    assert client.post("/run-etl?mode=full&wait=60").json["status"] == "succeeded"
    return client


def test_sales_pages_link_first_prev_next_last_keeping_every_other_parameter(seeded_client):
    answer = seeded_client.get("/sales?group_by=day&sort=-orders&limit=50&offset=100")
    total = answer.json["meta"]["total_rows"]
    last = (total - 1) // 50 * 50
    assert links(answer) == {
        "first": "/sales?group_by=day&sort=-orders&limit=50&offset=0",
        "prev": "/sales?group_by=day&sort=-orders&limit=50&offset=50",
        "next": "/sales?group_by=day&sort=-orders&limit=50&offset=150",
        "last": f"/sales?group_by=day&sort=-orders&limit=50&offset={last}",
    }
    following = seeded_client.get(links(answer)["next"]).json
    assert following["meta"]["offset"] == 150


def test_the_first_page_has_no_prev_and_the_last_no_next(seeded_client):
    first = seeded_client.get("/sales?group_by=country&limit=5")
    assert set(links(first)) == {"first", "next", "last"}
    last = seeded_client.get(links(first)["last"])
    assert set(links(last)) == {"first", "prev", "last"}
    assert last.json["data"]


def test_links_carry_the_prefix_the_request_came_under(seeded_client):
    answer = seeded_client.get("/etl-runs?limit=1", headers={"X-Forwarded-Prefix": "/api"})
    assert links(answer)["first"] == "/api/etl-runs?limit=1&offset=0"
    assert "next" not in links(answer)  # one run so far
