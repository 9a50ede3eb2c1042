"""Print the robustness campaign's table from a test run's junit XML (not a test).

    .venv/bin/python bench/robustness_report.py [test-output/junit.xml]

Every figure comes from the XML that ``./scripts/test.sh`` writes: each robustness test carries
its class, the cases it tried and the data it lost as junit properties (tests/robustness/
conftest.py). The class list comes from tests/robustness/catalogue.py, so a class that no test
tried shows 0 cases. Exits 1 when any class has failures, zero cases tried, or lost data.
"""

from __future__ import annotations

import argparse
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.robustness.catalogue import CLASSES  # noqa: E402


@dataclass
class ClassTally:
    """What the run says about one campaign class."""

    tests: int = 0
    cases: int = 0
    failures: int = 0
    data_lost: int = 0
    data_checked: int = 0

    @property
    def passed(self) -> bool:
        return self.cases > 0 and self.failures == 0 and self.data_lost == 0


def tally(junit_xml: str) -> dict[str, ClassTally]:
    """Sum cases, failures and data lost per campaign class over the XML's test cases."""
    tallies = {class_id: ClassTally() for class_id in CLASSES}
    for testcase in ET.fromstring(junit_xml).iter("testcase"):
        properties = {prop.get("name"): prop.get("value", "") for prop in testcase.iter("property")}
        class_id = properties.get("campaign_class")
        if class_id is None:
            continue
        entry = tallies.setdefault(class_id, ClassTally())
        entry.tests += 1
        did_not_pass = any(testcase.find(tag) is not None for tag in ("failure", "error"))
        skipped = testcase.find("skipped") is not None
        if not skipped:
            entry.cases += int(properties.get("cases", 1))
        entry.failures += did_not_pass or skipped  # a skipped case proves nothing
        if "data_lost" in properties:
            entry.data_lost += int(properties["data_lost"])
            entry.data_checked += 1
    return tallies


def render(tallies: dict[str, ClassTally]) -> str:
    """Format the tallies as a Markdown table with a verdict per class."""
    lines = [
        "| kind | class | tests | cases tried | failures | data lost | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for class_id, entry in tallies.items():
        known = CLASSES.get(class_id)
        kind, title = (known.kind, known.title) if known else ("?", f"{class_id} (unknown)")
        lost = f"{entry.data_lost} ({entry.data_checked} checked)" if entry.data_checked else "-"
        verdict = "ok" if entry.passed else ("NOT TRIED" if entry.cases == 0 else "FAIL")
        lines.append(
            f"| {kind} | {title} | {entry.tests} | {entry.cases} | {entry.failures} "
            f"| {lost} | {verdict} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("junit", nargs="?", default=str(ROOT / "test-output" / "junit.xml"))
    args = parser.parse_args(argv)
    try:
        tallies = tally(Path(args.junit).read_text(encoding="utf-8"))
    except (OSError, ET.ParseError) as exc:
        print(f"cannot read the test results {args.junit}: {exc}", file=sys.stderr)
        return 2
    print(render(tallies))
    failed = [class_id for class_id, entry in tallies.items() if not entry.passed]
    if failed:
        print(f"\nrobustness campaign FAILED in: {', '.join(failed)}", file=sys.stderr)
        return 1
    total = sum(entry.cases for entry in tallies.values())
    print(f"\nrobustness campaign passed: {total} cases in {len(tallies)} classes, 0 data lost")
    return 0


if __name__ == "__main__":
    sys.exit(main())
