"""The core's two builds (stack/corebuild.py): the mypyc-compiled modules that
``pip install -e .`` makes, or the Python sources; which one runs is chosen at import,
all or nothing, and both must give the same bytes for the same packets."""

from __future__ import annotations

import importlib.machinery
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from stack import corebuild
from stack.corebuild import COMPILED_MODULES, PURE_PYTHON_ENV, pure_reason

ROOT = Path(__file__).resolve().parent.parent
MODULES = ("stack.wire.one", "stack.host.two")
EXTENSION = importlib.machinery.EXTENSION_SUFFIXES[0]


def _tree(root: Path, compiled: tuple[str, ...], stale: tuple[str, ...] = ()) -> Path:
    """Sources for MODULES under ``root``, with a (fake) extension beside those in
    ``compiled``; the ``stale`` ones have a source newer than their extension."""
    for module in MODULES:
        source = corebuild.source_path(module, root)
        source.parent.mkdir(parents=True, exist_ok=True)
        source.write_text("x = 1\n")
        os.utime(source, (1000, 1000))
        if module in compiled:
            extension = source.with_suffix(EXTENSION)
            extension.write_bytes(b"")
            os.utime(extension, (2000, 2000))
            if module in stale:
                os.utime(source, (3000, 3000))
    return root


def test_a_complete_fresh_build_is_used(tmp_path: Path) -> None:
    assert pure_reason({}, _tree(tmp_path, MODULES), MODULES) is None


def test_no_extensions_means_pure_python(tmp_path: Path) -> None:
    reason = pure_reason({}, _tree(tmp_path, ()), MODULES)
    assert reason == "not compiled (no C compiler or mypyc at install time)"


def test_an_incomplete_build_is_not_mixed_with_sources(tmp_path: Path) -> None:
    reason = pure_reason({}, _tree(tmp_path, MODULES[:1]), MODULES)
    assert reason == ("compiled build incomplete (stack.host.two missing); "
                      "reinstall: pip install -e .")


def test_a_source_edited_after_compiling_runs_as_source(tmp_path: Path) -> None:
    reason = pure_reason({}, _tree(tmp_path, MODULES, stale=MODULES[1:]), MODULES)
    assert reason == "stack.host.two changed since it was compiled; rebuild: pip install -e ."


def test_the_environment_asks_for_the_sources(tmp_path: Path) -> None:
    root = _tree(tmp_path, MODULES)
    assert pure_reason({PURE_PYTHON_ENV: "1"}, root, MODULES) == f"{PURE_PYTHON_ENV}=1"
    assert pure_reason({PURE_PYTHON_ENV: "0"}, root, MODULES) is None


def test_every_listed_module_has_a_source() -> None:
    for module in COMPILED_MODULES:
        assert corebuild.source_path(module).is_file(), module


def _python(code: str, *, pure: bool) -> str:
    environment = {k: v for k, v in os.environ.items() if k != PURE_PYTHON_ENV}
    if pure:
        environment[PURE_PYTHON_ENV] = "1"
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT,
                          env=environment, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_pure_python_runs_every_module_from_source() -> None:
    out = _python("""
        import importlib
        from stack import corebuild
        print(corebuild.describe())
        print(corebuild.is_compiled())
        print(all(importlib.import_module(m).__file__.endswith(".py")
                  for m in corebuild.COMPILED_MODULES))
        """, pure=True)
    assert out.splitlines() == [f"pure Python: {PURE_PYTHON_ENV}=1", "False", "True"]


# Every packet of the corpus, the fuzz seeds, and seeded corruptions of all of them,
# through one host on an advancing clock (reassembly, rate limits and timers included):
# the digest covers every output byte, the reasons and the counters.
_DIFFERENTIAL = """
    import hashlib, random
    from pathlib import Path
    from fuzz.seeds import corpus_packets, ipv4_seeds, ipv6_seeds
    from stack import corebuild
    from stack.capture import strip_link_header
    from stack.host import Host, HostConfig

    packets = list(ipv4_seeds().values()) + list(ipv6_seeds().values())
    for _name, frame, linktype, _direction in corpus_packets(Path("corpus")):
        data, _ = strip_link_header(frame, linktype)
        if data:
            packets.append(data)
    rng = random.Random(2026)
    for packet in list(packets):
        for _ in range(12):
            mutated = bytearray(packet)
            for _ in range(rng.randint(1, 4)):
                mutated[rng.randrange(len(mutated))] = rng.randrange(256)
            packets.append(bytes(mutated[:rng.randint(0, len(mutated))] if rng.random() < 0.2
                                 else mutated))
    host = Host(HostConfig())
    digest = hashlib.sha256()
    now = 1000.0
    for packet in packets:
        for out in host.handle(packet, now):
            digest.update(out)
        digest.update(host.last_reason.encode())
        now += 0.0037
        for out in host.poll(now):
            digest.update(out)
    digest.update(repr(host.stats.as_dict()).encode())
    print(corebuild.describe())
    print(len(packets), digest.hexdigest())
"""


def test_compiled_and_pure_builds_give_the_same_bytes() -> None:
    if not corebuild.is_compiled():
        pytest.skip(f"the core is not compiled here ({corebuild.describe()}); "
                    "CI installs the compiled build and checks it is in use")
    compiled = _python(_DIFFERENTIAL, pure=False).splitlines()
    pure = _python(_DIFFERENTIAL, pure=True).splitlines()
    assert compiled[0] == "compiled with mypyc"
    assert pure[0] == f"pure Python: {PURE_PYTHON_ENV}=1"
    count = int(compiled[1].split()[0])
    assert count > 10_000
    assert compiled[1] == pure[1]


@pytest.mark.parametrize("program", ["stack-live", "replay", "stack-record"])
@pytest.mark.parametrize("pure", [False, True])
def test_version_names_the_build_in_use(program: str, pure: bool) -> None:
    from stack import __version__

    script = Path(sys.executable).parent / program
    environment = {k: v for k, v in os.environ.items() if k != PURE_PYTHON_ENV}
    if pure:
        environment[PURE_PYTHON_ENV] = "1"
    done = subprocess.run([str(script), "--version"], env=environment, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    # What the build selection says in a process with the same environment (this test
    # process may itself run with TUNSTACK_PURE_PYTHON set).
    build = _python("from stack import corebuild; print(corebuild.describe())", pure=pure)
    if pure:
        assert build == f"pure Python: {PURE_PYTHON_ENV}=1\n"
    lines = done.stdout.splitlines()
    if program == "stack-live":  # and a line naming the I/O paths (docs/live.md, Workers)
        assert lines.pop().startswith("I/O paths: epoll loop"), done.stdout
    # argparse wraps a long version line (a stale build's reason) at the terminal width.
    assert " ".join(lines).split() == f"{program} {__version__} (core {build.strip()})".split()


def test_fuzzing_instruments_the_sources_even_where_compiled(tmp_path: Path) -> None:
    # The sources must reach atheris's import hook (stack/corebuild.py puts its finder
    # behind it): without instrumentation libFuzzer sees a handful of edges, not hundreds.
    done = subprocess.run([sys.executable, "-m", "fuzz", "run", "ipv4", "--runs", "300",
                           "--workdir", str(tmp_path)], cwd=ROOT, capture_output=True,
                          text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    coverage = re.search(r"cov (\d+)", done.stdout)
    assert coverage is not None, done.stdout
    assert int(coverage[1]) > 200
