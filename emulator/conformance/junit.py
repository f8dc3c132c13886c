"""JUnit XML of a conformance run: one test case per RTDS case, so CI shows which failed.

One ``<testsuite>`` per device type; each RTDS case is a ``<testcase>`` named by its
RTDS test case, with ``classname`` ``conformance.<device>.<use case>``:

* conformant: passed (``fault-injected`` in its properties when the RTDS ``_ERROR`` case
  was answered through fault injection);
* differs or no response, not listed: a ``<failure>`` whose message is the first
  differences and whose text lists them all;
* listed in the known-differences file and differing as listed: ``<skipped>``, the
  message giving the entry's kind (``inconsistent`` RTDS data, or ``out-of-scope``: not
  applicable to the emulator) and its evidence;
* listed but now conformant: a ``<failure>`` asking for the stale entry to be removed.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

from .harness import CaseResult, ConformanceReport
from .known import Gate, case_name

__all__ = ["junit_xml", "write_junit"]


def _case_element(result: CaseResult, gate: Gate) -> ET.Element:
    case = result.case
    el = ET.Element(
        "testcase",
        {
            "classname": f"conformance.{case.device_type}.{case.rtds_case}",
            "name": case_name(result),
            "time": "0",
        },
    )
    props = ET.SubElement(el, "properties")
    for name, value in (
        ("id", case.id),
        ("status", result.status),
        ("fault-injected", "true" if result.fault_injected else "false"),
        ("protection", result.protection or "none"),
    ):
        ET.SubElement(props, "property", {"name": name, "value": value})
    verdict, entry = gate.verdict(result)
    differences = "\n".join(str(d) for d in result.differences) or result.detail
    if verdict == "known" and entry is not None:
        label = "not applicable" if entry.kind == "out-of-scope" else "RTDS inconsistent"
        skipped = ET.SubElement(
            el, "skipped", {"message": f"known difference ({label}): {entry.evidence}"}
        )
        skipped.text = differences
    elif verdict == "stale" and entry is not None:
        failure = ET.SubElement(
            el,
            "failure",
            {
                "type": "stale-known-difference",
                "message": f"now conformant, but listed as a known difference ({entry.kind})"
                " in the known-differences file: remove its entry",
            },
        )
        failure.text = entry.evidence
    elif verdict in ("fail", "beyond"):
        what = "differs beyond its known-differences entry: " if verdict == "beyond" else ""
        failure = ET.SubElement(
            el, "failure", {"type": result.status, "message": what + result.detail}
        )
        failure.text = differences
    if result.fault_injected:
        out = ET.SubElement(el, "system-out")
        out.text = "RTDS _ERROR case answered through fault injection"
    return el


def junit_xml(report: ConformanceReport, gate: Gate) -> ET.ElementTree:
    """The JUnit XML tree of ``report`` as judged by ``gate``."""
    by_device: dict[str, list[CaseResult]] = defaultdict(list)
    for r in report.results:
        by_device[r.case.device_type].append(r)
    root = ET.Element("testsuites", {"name": "gbcs-emu conformance"})
    totals = {"tests": 0, "failures": 0, "skipped": 0}
    for device in sorted(by_device):
        suite = ET.SubElement(root, "testsuite", {"name": f"conformance.{device}"})
        counts = {"tests": 0, "failures": 0, "skipped": 0}
        for r in by_device[device]:
            el = _case_element(r, gate)
            suite.append(el)
            counts["tests"] += 1
            counts["failures"] += el.find("failure") is not None
            counts["skipped"] += el.find("skipped") is not None
        for k, v in counts.items():
            suite.set(k, str(v))
            totals[k] += v
        suite.set("errors", "0")
    for k, v in totals.items():
        root.set(k, str(v))
    root.set("errors", "0")
    tree = ET.ElementTree(root)
    ET.indent(tree)
    return tree


def write_junit(path: Path, report: ConformanceReport, gate: Gate) -> None:
    """Write :func:`junit_xml` to ``path`` (``OSError`` when it cannot be written)."""
    junit_xml(report, gate).write(path, encoding="utf-8", xml_declaration=True)
