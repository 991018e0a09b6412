"""``replay --html FILE``: one self-contained page for a whole run, to look at rather than
read: the totals, one row per case with its verdict, and for every case that differs a
ladder diagram (the packets in and out on a time axis, the recorded answers beside the
host's) drawn by the page's own script, then each mismatch, collapsible, with its
field-level diff (:func:`stack.wire.inspect.diff`, as the text report prints it) and both
packets dissected side by side (:func:`stack.wire.inspect.dissect`).

The page fetches nothing: its CSS and script are inline and the diagrams are SVG the
script builds from JSON embedded in the page. A verdict is any string (``ok``, ``FAIL``,
``deviates``, ``crashed``, ``hung`` …): known ones get their colour, others a neutral one.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from replay.report import case_status, totals
from replay.results import KEEP_MISMATCHES, CaseResult, FileResult, Mismatch, TimelineEvent
from stack.wire.inspect import dissect, format_value

__all__ = ["render_html", "write_html", "ladder_rows", "MAX_CASES", "MAX_MISMATCHES"]

# What one page shows in full, so a run that fails everywhere still gives a page a
# browser opens: the first MAX_CASES differing cases, MAX_MISMATCHES mismatches each.
MAX_CASES = 200
MAX_MISMATCHES = 50
# A longer command line is shown cut, whole when unfolded.
COMMAND_CHARS = 240

# verdict, in lower case -> CSS class; any other verdict (skipped …) gets "other"
_VERDICT_CLASS = {"ok": "pass", "ran": "pass", "pass": "pass", "fail": "fail",
                  "mismatch": "fail", "crashed": "fail", "hung": "fail",
                  "CRASHED": "fail", "HUNG": "fail", "skipped": "notice",
                  "deviates": "deviates", "ok (deviation gone)": "notice"}

_CSS = """
:root { --pass: #1a7f37; --fail: #cf222e; --dev: #9a6700; --note: #0969da;
        --muted: #57606a; --line: #d0d7de; --bg: #f6f8fa; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2328;
       margin: 0 auto; padding: 20px 28px 40px; max-width: 1280px; }
h1 { font-size: 22px; margin: 0 0 2px; }
h2 { font-size: 17px; margin: 0; display: inline; }
.sub { color: var(--muted); font-size: 12px; }
code, .mono, td.num { font-family: ui-monospace, "DejaVu Sans Mono", monospace;
                      font-size: 12px; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; margin: 14px 0 18px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 8px 14px;
        min-width: 104px; background: var(--bg); }
.card b { display: block; font-size: 22px; }
.card.pass b { color: var(--pass); } .card.fail b { color: var(--fail); }
.card.deviates b { color: var(--dev); }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line);
         vertical-align: baseline; }
td.drops { font-size: 12px; overflow-wrap: anywhere; max-width: 280px; }
td.path { overflow-wrap: anywhere; }
th { background: var(--bg); font-weight: 600; }
td.num { text-align: right; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff;
         font-size: 12px; font-weight: 600; white-space: nowrap; }
.badge.pass { background: var(--pass); } .badge.fail { background: var(--fail); }
.badge.deviates { background: var(--dev); } .badge.notice { background: var(--note); }
.badge.other { background: var(--muted); }
.errors { color: var(--fail); }
details.case { border: 1px solid var(--line); border-radius: 8px; margin: 18px 0;
               padding: 10px 14px; }
details.case > summary { cursor: pointer; }
.ladder { overflow-x: auto; margin: 10px 0; }
.ladder svg text { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 11px; }
.ladder .head { font-weight: 700; font-size: 12px; }
.ladder .lane { stroke: #8c959f; stroke-width: 1.5; }
.ladder .arrow { stroke: #57606a; stroke-width: 1.4; }
.ladder .arrow.in { stroke: #0969da; }
.ladder .arrow.bad { stroke: var(--fail); stroke-width: 2.6; }
.ladder text.bad { fill: var(--fail); font-weight: 600; }
.ladder .time { fill: var(--muted); }
.ladder .reason { fill: var(--pass); }
.ladder .band { fill: #fff1f0; }
details.mismatch { margin: 8px 0; border-left: 3px solid var(--fail); padding: 2px 10px; }
details.mismatch > summary { cursor: pointer; font-family: ui-monospace, monospace;
                             font-size: 12px; }
.kind { font-weight: 700; text-transform: uppercase; font-size: 11px; color: var(--fail); }
ul.diff { margin: 6px 0; padding-left: 20px; font-family: ui-monospace, monospace;
          font-size: 12px; }
table.dissect { table-layout: fixed; }
table.dissect td, table.dissect th { font-family: ui-monospace, monospace; font-size: 11.5px;
                                     padding: 1px 8px; overflow-wrap: anywhere; }
table.dissect th:first-child { width: 230px; }
table.dissect tr.differs td { background: #ffebe9; }
table.dissect tr.ignored td { background: #fff8c5; }
.legend { font-size: 12px; color: var(--muted); }
details.stack pre { background: var(--bg); padding: 6px 10px; font-size: 12px;
                    white-space: pre-wrap; }
.legend span { margin-right: 16px; }
.legend .in { color: var(--note); } .legend .bad { color: var(--fail); }
.legend .did { color: var(--pass); }
"""

# Builds each diagram from its JSON rows: two ladders side by side, the recorded
# exchange (peer and recorded host) and the replayed one (peer and this host), one row
# per packet, time going down; a mismatched packet's arrow is red and links to its
# mismatch below.
_SCRIPT = r"""
(function () {
  const NS = "http://www.w3.org/2000/svg";
  const ROW = 30, TOP = 46, GUTTER = 92, WIDTH = 470, GAP = 36;
  function el(parent, name, attrs, text) {
    const node = document.createElementNS(NS, name);
    for (const key in attrs) node.setAttribute(key, attrs[key]);
    if (text !== undefined) node.textContent = text;
    parent.appendChild(node);
    return node;
  }
  function cut(text, chars) {
    return text.length > chars ? text.slice(0, chars - 1) + "\u2026" : text;
  }
  function arrow(svg, x1, x2, y, packet, kind, chars) {
    const bad = packet.bad ? " bad" : "";
    const holder = packet.bad ? el(svg, "a", {href: "#" + packet.bad}) : svg;
    el(holder, "title", {}, packet.s + (packet.n ? "  \u21d2 " + packet.n : ""));
    el(holder, "line", {x1: x1, y1: y, x2: x2, y2: y, "class": "arrow " + kind + bad,
                        "marker-end": packet.bad ? "url(#head-bad)" : "url(#head)"});
    el(holder, "text", {x: Math.min(x1, x2) + (x1 < x2 ? 8 : 14), y: y - 5,
                        "class": "label" + bad},
       cut(packet.s, chars));
  }
  document.querySelectorAll("div.ladder").forEach(function (box) {
    const data = JSON.parse(document.getElementById(box.dataset.rows).textContent);
    const rows = data.rows;
    const height = TOP + rows.length * ROW + 14;
    const width = GUTTER + 2 * WIDTH + GAP + 10;
    const svg = el(box, "svg", {width: width, height: height, "class": "ladder-svg",
                                viewBox: "0 0 " + width + " " + height});
    const defs = el(svg, "defs", {});
    [["head", "#57606a"], ["head-bad", "#cf222e"]].forEach(function (m) {
      const marker = el(defs, "marker", {id: m[0], markerWidth: 8, markerHeight: 8,
                                         refX: 7, refY: 4, orient: "auto",
                                         markerUnits: "userSpaceOnUse"});
      el(marker, "path", {d: "M0,0 L8,4 L0,8 z", fill: m[1]});
    });
    const ladders = [
      {x: GUTTER, title: "expected: as recorded", side: "exp"},
      {x: GUTTER + WIDTH + GAP, title: "got: as replayed", side: "got"}];
    rows.forEach(function (row, i) {
      if ([row.in, row.exp, row.got].some(function (p) { return p && p.bad; })) {
        el(svg, "rect", {x: 0, y: TOP + i * ROW, width: width, height: ROW, "class": "band"});
      }
    });
    ladders.forEach(function (ladder) {
      const peer = ladder.x + 20, host = ladder.x + WIDTH - 20;
      el(svg, "text", {x: ladder.x + 4, y: 14, "class": "head"}, ladder.title);
      el(svg, "text", {x: peer - 14, y: 32, "class": "head"}, "peer");
      el(svg, "text", {x: host - 14, y: 32, "class": "head"}, "host");
      el(svg, "line", {x1: peer, y1: 38, x2: peer, y2: height - 6, "class": "lane"});
      el(svg, "line", {x1: host, y1: 38, x2: host, y2: height - 6, "class": "lane"});
      rows.forEach(function (row, i) {
        const y = TOP + i * ROW + ROW - 8;
        const inbound = ladder.side === "got" ? row.in : row.rin;
        if (inbound) {
          arrow(svg, peer, host - 2, y, inbound, "in", ladder.side === "got" ? 40 : 62);
          if (ladder.side === "got" && row.in.n) {
            el(svg, "text", {x: host - 6, y: y - 5, "text-anchor": "end",
                             "class": row.in.bad ? "reason bad" : "reason"},
               "\u21d2 " + cut(row.in.n, 22));
          }
        }
        const out = row[ladder.side];
        if (out) arrow(svg, host, peer + 2, y, out, "out", 62);
      });
    });
    rows.forEach(function (row, i) {
      el(svg, "text", {x: 4, y: TOP + i * ROW + ROW - 8, "class": "time"}, row.t);
    });
    box.dataset.drawn = String(rows.length);
  });
})();
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _verdict_class(verdict: str) -> str:
    return _VERDICT_CLASS.get(verdict.lower(), "other")


def _anchor(case_number: int, mismatch_number: int) -> str:
    return f"case{case_number}-m{mismatch_number}"


@dataclass
class _Turn:
    """One inbound packet and what followed it: as recorded (``recorded``, then the
    recorded answers) and as replayed (``delivered``, then the host's answers)."""

    recorded: TimelineEvent | None = None
    delivered: TimelineEvent | None = None
    expected: list[TimelineEvent] = field(default_factory=list)
    got: list[TimelineEvent] = field(default_factory=list)

    def takes(self, delivered: TimelineEvent) -> bool:
        """Whether ``delivered`` is this turn's recorded packet as the host got it
        (the same packet at the same time: no fault moved or changed it)."""
        recorded = self.recorded
        return (recorded is not None and self.delivered is None and not self.expected
                and not self.got and recorded.time == delivered.time
                and recorded.summary == delivered.summary)


def ladder_rows(case: CaseResult, case_number: int) -> list[dict[str, Any]]:
    """The diagram of ``case`` as rows (what the page's script draws), in time order.
    Each inbound packet has a row and starts a turn: on the left as recorded
    (``rin``), on the right as delivered to the host (``in``, with what the host did);
    the same row when no fault moved it. The recorded answers that follow it and the
    answers the host sent take the next rows, the k-th recorded beside the k-th sent.
    A packet a mismatch is about (an inbound one: the stack crashed, hung or failed on
    it) carries ``bad``: that mismatch's anchor."""
    bad_expected: dict[int, str] = {}
    bad_got: dict[int, str] = {}
    shown = min(len(case.mismatches), MAX_MISMATCHES)
    for number, mismatch in enumerate(case.mismatches[:shown]):
        anchor = _anchor(case_number, number)
        if mismatch.expected_index is not None:
            bad_expected.setdefault(mismatch.expected_index, anchor)
        if mismatch.got_number is not None:
            bad_got.setdefault(mismatch.got_number, anchor)
    turns = [_Turn()]
    # stable: a packet and the host's answers to it share a time and keep their order
    for event in sorted(case.timeline, key=lambda e: e.time):
        if event.lane == "recorded":
            turns.append(_Turn(recorded=event))
        elif event.lane == "in":
            if turns[-1].takes(event):
                turns[-1].delivered = event
            else:
                turns.append(_Turn(delivered=event))
        elif event.lane == "expected":
            turns[-1].expected.append(event)
        else:
            turns[-1].got.append(event)
    start = min((e.time for e in case.timeline), default=0.0)

    def offset(time: float) -> str:
        return f"+{(time - start) * 1000:.3f} ms"

    rows: list[dict[str, Any]] = []
    for turn in turns:
        inbound = turn.recorded or turn.delivered
        if inbound is not None:
            row: dict[str, Any] = {"t": offset(inbound.time)}
            if turn.recorded is not None:
                row["rin"] = {"s": turn.recorded.summary, "bad": ""}
            delivered = turn.delivered
            if delivered is not None:
                failed = 0 <= delivered.mismatch < shown
                row["in"] = {"s": delivered.summary, "n": delivered.note,
                             "bad": _anchor(case_number, delivered.mismatch) if failed else ""}
            rows.append(row)
        expected, got = turn.expected, turn.got
        for k in range(max(len(expected), len(got))):
            row = {}
            if k < len(expected):
                row["exp"] = {"s": expected[k].summary,
                              "bad": bad_expected.get(expected[k].number, "")}
            if k < len(got):
                item = got[k]
                row["got"] = {"s": item.summary + (" (timer)" if item.note == "timer" else ""),
                              "bad": bad_got.get(item.number, "")}
            row["t"] = offset(min(e.time for e in (expected[k:k + 1] + got[k:k + 1])))
            rows.append(row)
    return rows


def _json_script(element_id: str, value: object) -> str:
    """``value`` as JSON inside the page; ``<`` escaped so no text can end the script."""
    text = json.dumps(value, ensure_ascii=False).replace("<", "\\u003c")
    return f'<script type="application/json" id="{element_id}">{text}</script>'


def _dissection_table(mismatch: Mismatch) -> str:
    """Both packets' fields side by side; a differing field named by the diff is red,
    one that may differ (ignored by the profile) yellow."""
    expected = dissect(bytes.fromhex(mismatch.expected_hex)) if mismatch.expected_hex else {}
    got = dissect(bytes.fromhex(mismatch.got_hex)) if mismatch.got_hex else {}
    if not expected and not got:
        return ""
    named = {line.split(":", 1)[0] for line in mismatch.details}
    fields = list(expected) + [name for name in got if name not in expected]
    rows = []
    for name in fields:
        want = format_value(name, expected[name]) if name in expected else ""
        have = format_value(name, got[name]) if name in got else ""
        css = ""
        if expected and got and (name not in expected or name not in got
                                 or expected[name] != got[name]):
            css = ' class="differs"' if name in named or "packet" in named else \
                ' class="ignored"'
        rows.append(f"<tr{css}><td>{_e(name)}</td><td>{_e(want)}</td><td>{_e(have)}</td></tr>")
    return ('<table class="dissect"><tr><th>field</th><th>expected (recorded)</th>'
            f'<th>got (this host)</th></tr>{"".join(rows)}</table>')


def _mismatch_block(mismatch: Mismatch, anchor: str, open_it: bool) -> str:
    details = "".join(f"<li>{_e(line)}</li>" for line in mismatch.details)
    parts = [f'<details class="mismatch" id="{anchor}"{" open" if open_it else ""}>',
             f'<summary><span class="kind">{_e(mismatch.kind)}</span> '
             f'{_e(mismatch.where)}: {_e(mismatch.summary)}</summary>']
    if details:
        parts.append(f'<ul class="diff">{details}</ul>')
    parts.append(_dissection_table(mismatch))
    parts.append("</details>")
    return "".join(parts)


def _case_section(path: str, case: CaseResult, case_number: int, verdict: str) -> str:
    rows_id = f"rows{case_number}"
    rows = ladder_rows(case, case_number)
    cut = (f'<p class="sub">the diagram shows the first {len(case.timeline)} packets of '
           f"{len(case.timeline) + case.timeline_cut}</p>" if case.timeline_cut else "")
    shown = case.mismatches[:MAX_MISMATCHES]
    hidden = case.mismatch_count - len(shown)
    more = (f'<p class="sub">… {hidden} more mismatches (the first {KEEP_MISMATCHES} in '
            "--json)</p>" if hidden > 0 else "")
    blocks = "".join(_mismatch_block(m, _anchor(case_number, i), i == 0)
                     for i, m in enumerate(shown))
    notes = (f'<p>deviates as documented: {_e(case.deviation)}</p>'
             if case.deviation is not None else "")
    if case.reproducer is not None:  # a crashed or hung stack: how to see it again
        notes += (f'<p>{_e(case.verdict)}: reproducer <code>{_e(case.reproducer)}</code>'
                  "</p>")
    if case.stack_output:
        notes += ('<details class="stack"><summary>the stack\'s last output '
                  f"({len(case.stack_output)} lines)</summary><pre>"
                  + _e("\n".join(case.stack_output)) + "</pre></details>")
    return (f'<details class="case" id="case{case_number}" open><summary>'
            f'<h2>{_e(case.name)}</h2> <span class="badge {_verdict_class(verdict)}">'
            f'{_e(verdict)}</span> <span class="sub">{_e(path)} · section {case.section} · '
            f'{case.mismatch_count} mismatch(es) · checked with {_e(case.checked_with or "-")}'
            f' · profile {_e(case.profile or "-")}</span></summary>{notes}'
            '<div class="legend"><span class="in">→ in: to the host (left as recorded, '
            "right as delivered)</span>"
            "<span>← out: sent by the host</span><span class=bad>red: a mismatch (click "
            "for it below)</span><span class=did>⇒ what the host did</span></div>"
            f'<div class="ladder" data-rows="{rows_id}"></div>'
            + _json_script(rows_id, {"rows": rows})
            + cut + blocks + more + "</details>")


def _cards(results: list[FileResult]) -> str:
    total = totals(results)
    passed = total["cases"] - total["failed"]
    cards = [("files", total["files"], ""), ("cases", total["cases"], ""),
             ("passed", passed, "pass"), ("failed", total["failed"],
                                          "fail" if total["failed"] else ""),
             ("deviating", total["deviating"], "deviates" if total["deviating"] else ""),
             ("packets in", total["inbound"], ""), ("out expected", total["expected"], ""),
             ("out got", total["got"], ""), ("mismatches", total["mismatches"],
                                             "fail" if total["mismatches"] else "")]
    # of the failed: a stack that crashed or hung (h-wire's verdicts); skipped cases
    for name in ("crashed", "hung", "skipped", "unreadable"):
        if total.get(name):
            cards.append((name, total[name], "other" if name == "skipped" else "fail"))
    return '<div class="cards">' + "".join(
        f'<div class="card {css}"><b>{value}</b>{_e(name)}</div>'
        for name, value, css in cards) + "</div>"


def _drops(case: CaseResult) -> str:
    return ", ".join(f"{reason}×{count}" for reason, count in case.drops.items()) or "-"


def _command_line(command: str, generator: str) -> str:
    """The command that made the page (a shell glob makes it long: then its start, the
    whole of it one click away) and the program's version."""
    version = f" · {_e(generator)}" if generator else ""
    if len(command) <= COMMAND_CHARS:
        return f'<div class="sub">{_e(command)}{version}</div>'
    return (f'<details class="sub"><summary>{_e(command[:COMMAND_CHARS])}… '
            f"({len(command.split())} words){version}</summary>{_e(command)}</details>")


def render_html(results: list[FileResult], expect: bool, command: str = "",
                generator: str = "",
                verdict: Callable[[CaseResult, bool], str] = case_status) -> str:
    """The whole page (see the module docstring); ``verdict`` names each case's result
    (by default as the text report's table does)."""
    table_rows: list[str] = []
    sections: list[str] = []
    errors: list[str] = []
    case_number = 0
    for result in results:
        if result.error:
            errors.append(f"<li>{_e(result.error)}</li>")
        for case in result.cases:
            result_text = verdict(case, expect)
            name = _e(case.name)
            if case.mismatch_count and len(sections) < MAX_CASES:
                sections.append(_case_section(result.path, case, case_number, result_text))
                name = f'<a href="#case{case_number}">{name}</a>'
            table_rows.append(
                f"<tr><td class=path>{_e(result.path)}</td><td>{name}</td>"
                f"<td class=num>{case.inbound}</td>"
                f"<td class=num>{case.expected if expect else '-'}</td>"
                f"<td class=num>{case.got}</td><td class=num>{case.mismatch_count}</td>"
                f"<td class=drops>{_e(_drops(case))}</td><td><span class=\"badge "
                f"{_verdict_class(result_text)}\">{_e(result_text)}</span></td></tr>")
            case_number += 1
    differing = sum(1 for r in results for c in r.cases if c.mismatch_count)
    omitted = (f'<p class="sub">the first {MAX_CASES} of {differing} differing cases are '
               "shown in full</p>" if differing > MAX_CASES else "")
    error_list = (f'<h3 class="errors">unreadable input</h3><ul class="errors">'
                  f'{"".join(errors)}</ul>' if errors else "")
    table = ('<table><tr><th>file</th><th>case</th><th>in</th><th>out expected</th>'
             '<th>out got</th><th>mismatches</th><th>drops</th><th>result</th></tr>'
             + "".join(table_rows) + "</table>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>replay report</title><style>{_CSS}</style></head><body>"
            "<h1>replay report</h1>"
            + _command_line(command, generator)
            + _cards(results) + error_list + table
            + (f"<h3>{differing} case(s) that differ</h3>" if differing else "")
            + omitted + "".join(sections)
            + f"<script>{_SCRIPT}</script></body></html>\n")


def write_html(results: Iterable[FileResult], path: str, expect: bool, command: str = "",
               generator: str = "",
               verdict: Callable[[CaseResult, bool], str] = case_status) -> None:
    """Write the page to ``path`` (OSError is the caller's to report)."""
    text = render_html(list(results), expect, command, generator, verdict)
    with open(path, "w", encoding="utf-8") as stream:
        stream.write(text)
