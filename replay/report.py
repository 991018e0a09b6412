"""Reports: the human one (mismatch lines and a tabulate summary), JSON, JUnit XML, and a
progress line on stderr when it is a terminal."""

from __future__ import annotations

import json
import sys
import time
import xml.etree.ElementTree as ET
from typing import TextIO

from tabulate import tabulate

from replay.results import CaseResult, FileResult

__all__ = ["print_human", "json_report", "write_junit", "Progress", "totals", "case_status"]


def _drops(case: CaseResult) -> str:
    if not case.drops:
        return "-"
    return ", ".join(f"{reason}×{count}" for reason, count in case.drops.items())


def case_status(case: CaseResult, expect: bool) -> str:
    """A case's result as the table (and the --html report) prints it."""
    if case.verdict in ("crashed", "hung", "skipped"):
        return case.verdict.upper() if case.verdict != "skipped" else "skipped"
    if case.excused:
        return "deviates"
    if case.mismatch_count:
        return "FAIL"
    if case.deviation is not None:
        return "ok (deviation gone)"
    return "ok" if expect else "ran"


def totals(results: list[FileResult]) -> dict[str, int]:
    cases = [case for result in results for case in result.cases]
    return {
        "files": len(results),
        "unreadable": sum(1 for r in results if r.error),
        "cases": len(cases),
        "failed": sum(1 for c in cases if not c.passed),
        "deviating": sum(1 for c in cases if c.excused),
        "crashed": sum(1 for c in cases if c.verdict == "crashed"),
        "hung": sum(1 for c in cases if c.verdict == "hung"),
        "skipped": sum(1 for c in cases if c.skipped is not None),
        "inbound": sum(c.inbound for c in cases),
        "expected": sum(c.expected for c in cases),
        "got": sum(c.got for c in cases),
        "mismatches": sum(c.mismatch_count for c in cases),
    }


def print_human(results: list[FileResult], expect: bool, stream: TextIO,
                max_mismatches: int = 50) -> None:
    """Every mismatch (up to ``max_mismatches`` per case), then the summary table."""
    for result in results:
        for case in result.cases:
            for line in case.trace:
                print(f"{result.path} [{case.name}] {line}", file=stream)
            if case.faults is not None:
                injected = ", ".join(f"{n} {k}" for k, n in case.faults.items() if n) or "none"
                print(f"{result.path} [{case.name}] faults injected: {injected}", file=stream)
                for event in case.fault_events if case.trace or case.mismatches else []:
                    print(f"    {event}", file=stream)
            if case.excused:
                print(f"{result.path} [{case.name}] deviates as documented: {case.deviation}",
                      file=stream)
            if case.skipped is not None:
                print(f"{result.path} [{case.name}] skipped: {case.skipped}", file=stream)
            if case.reproducer is not None:
                print(f"{result.path} [{case.name}] {case.verdict}: reproducer "
                      f"{case.reproducer}", file=stream)
            for line in case.stack_output:
                print(f"    stack: {line}", file=stream)
            for mismatch in case.mismatches[:max_mismatches] if not case.excused else []:
                head, *rest = mismatch.lines()
                print(f"{result.path} [{case.name}] {head}", file=stream)
                for line in rest:
                    print(line, file=stream)
            hidden = case.mismatch_count - min(len(case.mismatches), max_mismatches)
            if hidden > 0:
                print(f"{result.path} [{case.name}] … {hidden} more mismatches "
                      f"(the first {len(case.mismatches)} in --json)", file=stream)
    rows: list[list[object]] = []
    for result in results:
        if result.error and (result.cases or len(results) > 1):
            rows.append([result.path, "-", "-", "-", "-", "-", "-", "ERROR"])
        for case in result.cases:
            rows.append([result.path, case.name, case.inbound,
                         case.expected if expect else "-", case.got,
                         case.mismatch_count, _drops(case), case_status(case, expect)])
    if rows:
        print(tabulate(rows, headers=["file", "case", "in", "out expected", "out got",
                                      "mismatches", "drops", "result"]), file=stream)
    total = totals(results)
    if not total["cases"]:
        return  # nothing ran: the error lines on stderr say why
    verdict = (f"replay: {total['files']} file(s), {total['cases']} case(s), "
               f"{total['inbound']} packets in, {total['got']} out")
    if expect:
        verdict += f": {total['cases'] - total['failed']} passed, {total['failed']} failed"
        if total["deviating"]:
            verdict += f" ({total['deviating']} of the passed deviate as documented)"
        for kind in ("crashed", "hung", "skipped"):
            if total[kind]:
                verdict += f", {total[kind]} {kind}"
    if total["unreadable"]:
        verdict += f", {total['unreadable']} unreadable"
    print(verdict, file=stream)


def json_report(results: list[FileResult], exit_code: int, settings: dict[str, object]) -> str:
    return json.dumps({
        "settings": settings,
        "files": [result.as_dict() for result in results],
        "totals": totals(results),
        "exit_code": exit_code,
    }, indent=2)


def write_junit(results: list[FileResult], path: str) -> None:
    """One testsuite per file, one testcase per case; unreadable files are errors."""
    suites = ET.Element("testsuites", name="replay")
    for result in results:
        suite = ET.SubElement(suites, "testsuite", name=result.path,
                              tests=str(max(1, len(result.cases))),
                              failures=str(sum(1 for c in result.cases if not c.passed)),
                              errors="1" if result.error else "0")
        if result.error:
            case = ET.SubElement(suite, "testcase", classname=result.path, name="read")
            ET.SubElement(case, "error", message=result.error).text = result.error
        for case_result in result.cases:
            case = ET.SubElement(suite, "testcase", classname=result.path,
                                 name=case_result.name)
            if case_result.skipped is not None:
                ET.SubElement(case, "skipped", message=case_result.skipped)
            if case_result.verdict in ("crashed", "hung"):
                first = case_result.mismatches[0] if case_result.mismatches else None
                error = ET.SubElement(case, "error", type=case_result.verdict,
                                      message=f"{case_result.verdict}: "
                                              f"{first.summary if first else ''}")
                error.text = "\n".join(
                    [line for m in case_result.mismatches for line in m.lines()]
                    + ([f"reproducer: {case_result.reproducer}"] if case_result.reproducer
                       else []) + [f"stack: {line}" for line in case_result.stack_output])
            elif case_result.mismatch_count:
                first = case_result.mismatches[0]
                failure = ET.SubElement(case, "failure",
                                        message=f"{case_result.mismatch_count} mismatch(es); "
                                                f"first: {first.where}: {first.summary}")
                failure.text = "\n".join(line for m in case_result.mismatches
                                         for line in m.lines())
    ET.indent(suites)
    ET.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)


class Progress:
    """``replay: 3/10 files, 123456 packets`` on one rewritten stderr line, at most five
    times a second, only when stderr is a terminal."""

    def __init__(self, files: int, stream: TextIO = sys.stderr) -> None:
        self.stream = stream
        self.enabled = stream.isatty()
        self.files = files
        self.files_done = 0
        self.packets = 0
        self._shown = 0.0

    def packets_done(self, count: int) -> None:
        self.packets += count
        self._show()

    def file_done(self, packets: int = 0) -> None:
        self.files_done += 1
        self.packets += packets
        self._show(force=True)

    def _show(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._shown < 0.2:
            return
        self._shown = now
        self.stream.write(f"\rreplay: {self.files_done}/{self.files} files, "
                          f"{self.packets} packets ")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self._shown:
            self.stream.write("\r\033[K")
            self.stream.flush()
