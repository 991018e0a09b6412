"""``replay --html``: the page is loaded in real headless chromium (Debian's ``chromium``
package; CI installs it) and the rendered DOM is checked: the totals and a row per case
with its verdict, and, for each failing case, the ladder diagram the page's script
draws (SVG that is not in the file, only in the rendered page), its red arrows on the
mismatched packets, the field-level diff and both packets dissected side by side.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from replay.html import ladder_rows, render_html
from replay.results import CaseResult, FileResult, Mismatch, TimelineEvent
from stack.capture import DIRECTION_OUTBOUND, CaptureRecord, CaptureWriter, read_all
from stack.wire.checksum import checksum
from stack.wire.inspect import describe

CORPUS = Path(__file__).resolve().parent.parent / "corpus" / "linux"


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path is not None:
            return path
    pytest.fail("this test needs chromium: apt-get install chromium", pytrace=False)


def rendered_dom(page: Path, profile: Path) -> str:
    """The DOM of ``page`` after its scripts ran, as headless chromium serialises it.
    Every background service is off: the page itself must need no network."""
    done = subprocess.run(
        [_chromium(), "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", "--disable-extensions", "--disable-dev-shm-usage",
         f"--user-data-dir={profile}",
         "--dump-dom", page.resolve().as_uri()],
        capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0 and "</html>" in done.stdout, done.stderr[-2000:]
    return done.stdout


def _with_ttl(packet: bytes, ttl: int) -> bytes:
    header_length = (packet[0] & 0x0F) * 4
    header = bytearray(packet[:header_length])
    header[8] = ttl
    header[10:12] = b"\0\0"
    header[10:12] = checksum(header).to_bytes(2, "big")
    return bytes(header) + packet[header_length:]


def _write_case(path: Path, name: str, records: list[CaptureRecord]) -> None:
    metadata = dict(records[0].metadata or {})
    metadata["case"] = name
    with CaptureWriter(path, metadata=metadata) as writer:
        for record in records:
            writer.write(record.frame, record.timestamp, record.direction,
                         timestamp_ns=record.timestamp_ns)


@pytest.fixture(scope="module")
def captures(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], bytes]:
    """Three Linux recordings: one intact, one whose recorded echo reply has TTL 63
    (a diff), one whose third recorded reply was removed (an unexpected answer).
    Also returns the TTL-63 reply."""
    folder = tmp_path_factory.mktemp("html")
    intact = folder / "intact.pcapng"
    _write_case(intact, "burst_intact", read_all(CORPUS / "echo_burst.pcapng"))
    basic = read_all(CORPUS / "echo_basic.pcapng")
    assert basic[1].direction == DIRECTION_OUTBOUND
    changed = _with_ttl(basic[1].frame, 63)
    basic[1] = CaptureRecord(basic[1].timestamp_ns, changed, basic[1].linktype,
                             basic[1].direction, 0, basic[1].metadata, 1, 0)
    ttl = folder / "ttl.pcapng"
    _write_case(ttl, "ttl_changed", basic)
    burst = read_all(CORPUS / "echo_burst.pcapng")
    outbound = [i for i, r in enumerate(burst) if r.direction == DIRECTION_OUTBOUND]
    del burst[outbound[2]]
    missing = folder / "missing.pcapng"
    _write_case(missing, "reply_removed", burst)
    return [intact, ttl, missing], changed


@pytest.fixture(scope="module")
def report(captures: tuple[list[Path], bytes],
           tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """(the page as written, its DOM as chromium rendered it)."""
    files, _ = captures
    page = tmp_path_factory.mktemp("page") / "report.html"
    done = subprocess.run([sys.executable, "-m", "replay", *map(str, files), "--expect",
                           "--html", str(page)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1, done.stdout + done.stderr  # two cases fail
    assert "1 passed, 2 failed" in done.stdout
    source = page.read_text(encoding="utf-8")
    return source, rendered_dom(page, tmp_path_factory.mktemp("chromium"))


def _text(fragment: str) -> str:
    """The visible text of an HTML fragment, whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def _section(dom: str, case_id: str) -> str:
    start = dom.index(f'id="{case_id}"')
    end = dom.find('<details class="case"', start)
    return dom[start:end if end >= 0 else len(dom)]


def test_the_page_shows_totals_and_a_verdict_per_case(report: tuple[str, str]) -> None:
    _, dom = report
    text = _text(dom)
    assert "replay report" in text
    for total in ("3 files", "3 cases", "1 passed", "2 failed", "0 deviating",
                  "2 mismatches"):
        assert total in text, total
    rows = re.findall(r'<tr><td class="path">[^<]*</td><td>(?:<a [^>]*>)?([a-z_]+)'
                      r'(?:</a>)?</td>.*?<span class="badge (\w+)">([^<]+)</span></td></tr>',
                      dom)
    assert rows == [("burst_intact", "pass", "ok"), ("ttl_changed", "fail", "FAIL"),
                    ("reply_removed", "fail", "FAIL")]


def test_a_failing_cases_ladder_is_drawn_by_the_page(report: tuple[str, str],
                                                     captures: tuple[list[Path], bytes]
                                                     ) -> None:
    source, dom = report
    # The file holds data and a script, no drawing: the SVG exists only once rendered.
    assert "<svg" not in source
    assert dom.count('class="ladder-svg"') == 2  # one per failing case, none for the pass
    ttl = _section(dom, "case1")
    assert 'data-drawn="2"' in ttl  # the request's row and the reply's row
    # The request goes in on both ladders; the reply comes out on both, red, linking
    # to its mismatch.
    assert len(re.findall(r'<line [^>]*class="arrow in"', ttl)) == 2
    bad = re.findall(r'<a href="#(case1-m\d+)"><title>[^<]*</title><line [^>]*'
                     r'class="arrow out bad"', ttl)
    assert bad == ["case1-m0", "case1-m0"]
    _, changed = captures
    assert html.escape(describe(changed)) in ttl
    assert "⇒ icmp.echo_reply" in ttl
    removed = _section(dom, "case2")
    # 10 requests, 9 recorded replies, 10 sent: the unpaired one is red on the got side
    assert 'data-drawn="20"' in removed
    assert len(re.findall(r'class="arrow out bad"', removed)) == 1
    assert len(re.findall(r'class="arrow out"', removed)) == 18


def test_each_mismatch_has_its_diff_and_both_dissections(report: tuple[str, str]) -> None:
    _, dom = report
    ttl = _section(dom, "case1")
    block = ttl[ttl.index('id="case1-m0"'):]
    text = _text(block)
    assert "ipv4.ttl: expected 63, got 64" in text
    assert re.search(r'<tr class="differs"><td>ipv4\.ttl</td><td>63</td><td>64</td></tr>',
                     block)
    # the IP ID differs too, which the linux profile ignores: yellow, not red
    assert re.search(r'<tr class="ignored"><td>ipv4\.id</td>', block)
    assert re.search(r"<tr><td>icmp\.echo\.seq</td><td>1</td><td>1</td></tr>", block)
    removed = _section(dom, "case2")
    assert "unexpected 172.16.0.2 →" in _text(removed)


def test_the_page_fetches_nothing(report: tuple[str, str]) -> None:
    source, _ = report
    assert not re.search(r"""(?:src|href|url)\s*[=(]\s*["']?(?:https?:)?//""", source)
    assert "<link" not in source and "@import" not in source


def test_any_verdict_string_is_shown() -> None:
    """h-wire's verdicts (crashed, hung) or any future one: shown as given, neutral
    colour when unknown."""
    case = CaseResult("stuck", 0, inbound=1, expected=1)
    case.add(Mismatch("error", "inbound #0", "the stack stopped answering",
                      expected_index=1))
    case.timeline = [TimelineEvent("in", 0, 1.0, "an inbound packet"),
                     TimelineEvent("expected", 1, 1.0001, "an answer")]
    page = render_html([FileResult("x.pcapng", [case])], True,
                       verdict=lambda _case, _expect: "hung for 3 s")
    assert '<span class="badge other">hung for 3 s</span>' in page
    crashed = render_html([FileResult("x.pcapng", [case])], True,
                          verdict=lambda _case, _expect: "CRASHED")
    assert '<span class="badge fail">CRASHED</span>' in crashed
    assert ladder_rows(case, 0) == [
        {"t": "+0.000 ms", "in": {"s": "an inbound packet", "n": "", "bad": ""}},
        {"t": "+0.100 ms", "exp": {"s": "an answer", "bad": "case0-m0"}}]


def test_the_ladder_shows_inbound_packets_as_recorded_and_as_delivered() -> None:
    """Beside each other when the host got the packet as recorded; on rows of their own
    when a fault delayed it; the packet a stack crashed on is red, linked to the crash,
    and the recorded packets after it are still drawn on the left."""
    case = CaseResult("faulty", 0)
    case.add(Mismatch("crashed", "inbound #2", "the stack exited"))
    case.timeline = [
        TimelineEvent("recorded", 0, 1.0, "request 1"),
        TimelineEvent("in", 0, 1.0, "request 1", "icmp.echo_reply"),
        TimelineEvent("got", 0, 1.0, "reply 1"),
        TimelineEvent("expected", 1, 1.001, "reply 1"),
        TimelineEvent("recorded", 2, 2.0, "request 2"),
        TimelineEvent("in", 1, 2.5, "request 2", "crashed", mismatch=0),  # delayed
        TimelineEvent("recorded", 3, 3.0, "request 3")]
    assert ladder_rows(case, 4) == [
        {"t": "+0.000 ms", "rin": {"s": "request 1", "bad": ""},
         "in": {"s": "request 1", "n": "icmp.echo_reply", "bad": ""}},
        {"t": "+0.000 ms", "exp": {"s": "reply 1", "bad": ""},
         "got": {"s": "reply 1", "bad": ""}},
        {"t": "+1000.000 ms", "rin": {"s": "request 2", "bad": ""}},
        {"t": "+1500.000 ms", "in": {"s": "request 2", "n": "crashed", "bad": "case4-m0"}},
        {"t": "+2000.000 ms", "rin": {"s": "request 3", "bad": ""}}]


def test_an_unwritable_html_target_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "replay", str(CORPUS / "echo_basic.pcapng"),
                           "--expect", "--html", str(tmp_path / "no" / "such" / "r.html")],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"replay: {tmp_path}/no/such/r.html: cannot write the HTML report: "
        "No such file or directory"]


def _differing_case(name: str) -> CaseResult:
    case = CaseResult(name, 0, inbound=1, expected=1, got=1)
    case.add(Mismatch("diff", "packet #1", f"expected {name}", [f"{name}: expected 1, got 2"],
                      expected_index=1, got_number=0))
    case.timeline = [TimelineEvent("in", 0, 0.0, name, "icmp.echo_reply"),
                     TimelineEvent("expected", 1, 0.0, name),
                     TimelineEvent("got", 0, 0.0, name)]
    return case


def test_text_from_a_capture_cannot_become_markup() -> None:
    """Case names come from a capture's metadata, summaries from its packets: escaped in
    the page, and in its JSON no ``</script>`` can end the data early."""
    hostile = '</script><script>alert(1)</script><b onmouseover="x">'
    page = render_html([FileResult("<i>.pcapng", [_differing_case(hostile)])], True)
    assert page.count("<script") == 2  # the diagram's data and the drawing script
    assert "<b onmouseover" not in page and "<i>.pcapng" not in page
    assert html.escape(hostile) in page


def test_a_run_that_differs_everywhere_shows_the_first_cases_in_full(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("replay.html.MAX_CASES", 2)
    cases = [_differing_case(f"case_{n}") for n in range(5)]
    page = render_html([FileResult("many.pcapng", cases)], True)
    assert page.count('<details class="case"') == 2
    assert "the first 2 of 5 differing cases are shown in full" in page
    assert page.count('<span class="badge fail">FAIL</span>') == 5 + 2  # rows + sections


def test_a_crashed_case_shows_its_reproducer_and_the_stacks_last_words() -> None:
    case = _differing_case("crashing")
    case.reproducer = "/tmp/crash-<x>.pcapng"
    case.stack_output = ["Segmentation fault", "<core dumped>"]
    case.mismatches[0].kind = "crashed"
    page = render_html([FileResult("c.pcapng", [case])], True)
    assert '<div class="card fail"><b>1</b>crashed</div>' in page
    assert f"crashed: reproducer <code>{html.escape(case.reproducer)}</code>" in page
    assert "the stack's last output (2 lines)</summary><pre>Segmentation fault\n" \
        "&lt;core dumped&gt;</pre>" in page
