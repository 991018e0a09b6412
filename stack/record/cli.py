"""``stack-record``: record the probe set against the kernel or tunstack's core.

    stack-record --kernel corpus/linux            # every case against this kernel (root)
    stack-record --tunstack corpus/regress --case 'origin_*'
    stack-record --list                           # the cases, one line each
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from stack import version_text
from stack.live.netns import NetnsError
from stack.live.tun import TunError
from stack.record.probes import Case, select_cases
from stack.record.recording import RecordError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stack-record",
        description="Play the probe set against a reference host and write one pcapng "
                    "per case (link type 101, directions, JSON metadata).")
    parser.add_argument("--version", action="version", version=version_text("stack-record"))
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--kernel", metavar="OUTDIR", type=Path,
                        help="record the running Linux kernel in a temporary namespace "
                             "(needs root)")
    target.add_argument("--tunstack", metavar="OUTDIR", type=Path,
                        help="record tunstack's core")
    target.add_argument("--list", action="store_true",
                        help="list the cases: name, what it sends, what a correct host does")
    parser.add_argument("--case", metavar="PATTERN", action="append",
                        help="only cases matching this shell pattern (repeatable)")
    parser.add_argument("--markdown", action="store_true",
                        help="with --list: one Markdown bullet per case (corpus/README.md)")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress lines")
    return parser


def _list(cases: list[Case], markdown: bool) -> None:
    for case in cases:
        where = "" if case.on_kernel else " [tunstack only]"
        if markdown:
            print(f"- `{case.name}`{where}: sends {case.description}. "
                  f"A correct host: {case.expect}.")
        else:
            print(f"{case.name}{where}: sends {case.description}; expects {case.expect}")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    cases = select_cases(args.case)
    if not cases:
        print(f"stack-record: no case matches {' '.join(args.case or [])}", file=sys.stderr)
        return 2
    if args.list:
        try:
            _list(cases, args.markdown)
        except BrokenPipeError:  # `stack-record --list | head`: the reader left
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    outdir: Path = args.kernel or args.tunstack
    progress = None if args.quiet else (lambda line: print(line, file=sys.stderr))
    started = time.monotonic()
    try:
        if args.kernel and os.geteuid() != 0:
            raise RecordError("--kernel needs root (network namespaces and TUN)")
        outdir.mkdir(parents=True, exist_ok=True)
        if args.kernel:
            from stack.record.kernel import record_kernel
            skipped = [c.name for c in cases if not c.on_kernel]
            if skipped and progress:
                progress(f"skipping tunstack-only cases: {', '.join(skipped)}")
            recordings = record_kernel([c for c in cases if c.on_kernel], progress=progress)
        else:
            from stack.record.tunstack import record_tunstack
            recordings = record_tunstack(cases)
        for recording in recordings:
            recording.save(outdir)
    except (RecordError, NetnsError, TunError, OSError) as exc:
        print(f"stack-record: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("stack-record: interrupted", file=sys.stderr)
        return 130
    if progress:
        progress(f"wrote {len(recordings)} captures to {outdir} in "
                 f"{time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
