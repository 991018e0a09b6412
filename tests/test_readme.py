"""The README tells the truth: its library example runs and prints what its comments say,
and the two quick-start commands CI extracts are there."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_library_example_prints_what_its_comments_say() -> None:
    block = re.search(r"## Library use\n\n```python\n(.*?)```", README, re.DOTALL)
    assert block is not None
    code = block.group(1)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})
    printed = out.getvalue().splitlines()
    promised = [line.split("# ", 1)[1] for line in code.splitlines()
                if "print(" in line and "# " in line]
    assert printed == promised
    assert printed[0] == "172.16.0.2 → 172.16.0.1 ICMP echo reply id=13 seq=1 84 B []"


def test_quick_start_commands_are_marked_for_ci() -> None:
    for marker in ("quickstart-main", "quickstart-test"):
        section = re.search(rf"<!-- {marker} -->\n```sh\n(.+?)\n```\n<!-- /{marker} -->",
                            README, re.DOTALL)
        assert section is not None, marker
        assert "\n" not in section.group(1), f"{marker} must be one command line"
