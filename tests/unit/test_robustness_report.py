"""The robustness report counts what the junit XML says and fails untried or lossy classes."""

from __future__ import annotations

from bench import robustness_report
from tests.robustness.catalogue import CLASSES


def case_xml(class_id: str, outcome: str = "", **properties: int) -> str:
    props = "".join(
        f'<property name="{name}" value="{value}"/>'
        for name, value in {"campaign_class": class_id, **properties}.items()
    )
    return f'<testcase classname="c" name="t"><properties>{props}</properties>{outcome}</testcase>'


def junit(*cases: str) -> str:
    plain = '<testcase classname="tests.unit" name="not_in_the_campaign"/>'
    return f"<testsuites><testsuite>{plain}{''.join(cases)}</testsuite></testsuites>"


def every_class_once() -> list[str]:
    return [case_xml(class_id) for class_id in CLASSES]


def test_cases_default_to_one_per_test_and_add_up_recorded_counts():
    tallies = robustness_report.tally(
        junit(*every_class_once(), case_xml("contract_fuzz", cases=150))
    )
    assert tallies["contract_fuzz"].tests == 2
    assert tallies["contract_fuzz"].cases == 151
    assert all(entry.passed for entry in tallies.values())


def test_a_class_no_test_tried_fails_the_report(tmp_path, capsys):
    cases = [case for case in every_class_once() if "security" not in case]
    path = tmp_path / "junit.xml"
    path.write_text(junit(*cases))
    assert robustness_report.main([str(path)]) == 1
    row = next(line for line in capsys.readouterr().out.splitlines() if "CSRF" in line)
    assert "| 0 | 0 | 0 | - | NOT TRIED |" in row


def test_failures_errors_and_skips_count_as_failures():
    tallies = robustness_report.tally(
        junit(
            *every_class_once(),
            case_xml("security", '<failure message="x"/>'),
            case_xml("security", '<error message="x"/>'),
            case_xml("security", '<skipped message="x"/>'),
        )
    )
    assert tallies["security"].failures == 3 and tallies["security"].cases == 3
    assert not tallies["security"].passed


def test_lost_data_fails_even_when_the_test_passed(tmp_path):
    path = tmp_path / "junit.xml"
    path.write_text(junit(*every_class_once(), case_xml("connection_killed", data_lost=2)))
    assert robustness_report.main([str(path)]) == 1


def test_a_clean_run_passes_and_prints_every_class(tmp_path, capsys):
    path = tmp_path / "junit.xml"
    path.write_text(junit(*every_class_once(), case_xml("sales_during_run", data_lost=0)))
    assert robustness_report.main([str(path)]) == 0
    out = capsys.readouterr().out
    assert all(entry.title in out for entry in CLASSES.values())
    assert "| 0 (1 checked) |" in out


def test_a_missing_results_file_is_a_clear_error(tmp_path, capsys):
    assert robustness_report.main([str(tmp_path / "none.xml")]) == 2
    assert "cannot read the test results" in capsys.readouterr().err
