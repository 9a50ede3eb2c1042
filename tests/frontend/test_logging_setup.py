"""JSON log lines and request ids."""

from __future__ import annotations

import json
import logging

from retail_dashboard.logging_setup import configure_logging


def test_log_lines_are_json_with_the_request_id(app, capsys):
    configure_logging("INFO")  # bind the handler to the captured stdout
    log = logging.getLogger("retail_dashboard.test")

    with app.test_request_context("/", headers={"X-Request-ID": "rid-42"}):
        app.preprocess_request()
        log.warning("something %s", "happened", extra={"section": "sales"})
    log.info("outside a request")

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0]["message"] == "something happened"
    assert lines[0]["level"] == "WARNING" and lines[0]["logger"] == "retail_dashboard.test"
    assert lines[0]["request_id"] == "rid-42" and lines[0]["section"] == "sales"
    assert lines[1]["request_id"] is None and "time" in lines[1]


def test_configuring_twice_does_not_duplicate_lines(capsys):
    configure_logging("INFO")
    configure_logging("INFO")

    logging.getLogger("retail_dashboard").warning("once")

    assert capsys.readouterr().out.count('"once"') == 1


def test_level_is_honoured(capsys):
    configure_logging("WARNING")

    logging.getLogger("retail_dashboard").info("hidden")

    assert "hidden" not in capsys.readouterr().out
