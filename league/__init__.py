"""The league table: real stacks from Debian and PyPI graded on the same corpus as Linux.

Each stack is described by a definition file (``league/stacks/*.toml``, the same format a
user writes to bring their own stack: :mod:`league.definition`), built by one command
(:mod:`league.build`), graded on ``corpus/linux`` through ``replay`` — in process for
tunstack, ``--kernel`` for Linux, ``--wire DEV --exec CMD`` for every stack that owns a
TUN or TAP device (:mod:`league.grade`) — and published as ``docs/league.md`` with a
heatmap of stacks × categories (:mod:`league.report`). ``python -m league`` does it all;
docs/league.md says how.
"""
