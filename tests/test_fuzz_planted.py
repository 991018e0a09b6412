"""The harness finds a planted bug: real libFuzzer, the structure-aware mutator and the
oracle against ``PlantedHost`` (tests/fuzz_support/planted_host.py), whose echo replies
carry a wrong ICMP checksum when the request has the IPv4 Stream ID option. No seed has
that option: the mutator must insert it, repair the request's checksums, and the oracle
must catch the reply. Bounded by libFuzzer's -runs; with -seed 1..3 it is found after
about 800-1800 runs (plain libFuzzer mutations do not find it in 30000)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SUPPORT = Path(__file__).resolve().parent / "fuzz_support"
RUN_BOUND = 20000


def test_structured_fuzzing_finds_the_planted_checksum_bug(tmp_path: Path) -> None:
    environment = dict(os.environ, TUNSTACK_FUZZ_HOST="planted_host:make",
                       PYTHONPATH=str(SUPPORT))
    completed = subprocess.run(
        [sys.executable, "-m", "fuzz", "run", "ipv4", "--runs", str(RUN_BOUND), "--seed", "2",
         "--workdir", str(tmp_path), "--corpus", str(tmp_path / "no-corpus")],
        env=environment, capture_output=True, text=True, timeout=240, check=False)
    out = completed.stdout
    assert completed.returncode == 1, out + completed.stderr
    assert "FINDING in ipv4: crash" in out
    assert "oracle: output.bad_l4_checksum" in out
    runs = int(out.split(" runs in ", 1)[0].rsplit(" ", 1)[-1])
    assert runs < RUN_BOUND
    crashes = list((tmp_path / "ipv4" / "artifacts").glob("crash-*"))
    assert len(crashes) == 1
    reproducer = crashes[0].read_bytes()
    header_len = (reproducer[0] & 0x0F) * 4
    assert 136 in reproducer[20:header_len]  # the Stream ID option is what it found
