"""ClusterFuzzLite: the workflows parse and ask for what docs/fuzzing.md says (PR
fuzzing told old crashes from new by main's uploaded build, batch runs, corpus pruning
and coverage, the corpus kept in a storage repository), and build.sh ships each
fuzzer's options."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fuzz.targets import TARGETS
from fuzz.workspace import libfuzzer_options

yaml = pytest.importorskip("yaml", reason="PyYAML is not installed: pip install -e '.[test]'")

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"


def _workflow(name: str) -> dict[Any, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    assert isinstance(data, dict), name
    return data


def _triggers(workflow: dict[Any, Any]) -> dict[str, Any]:
    # YAML 1.1 reads the key `on` as the boolean true.
    triggers = workflow.get("on", workflow.get(True))
    assert isinstance(triggers, dict)
    return triggers


def _steps(workflow: dict[Any, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            found.append((step["uses"].split("@")[0].rsplit("/", 1)[-1], step.get("with", {})))
    return found


def test_every_workflow_parses_and_builds_python_fuzzers() -> None:
    names = sorted(path.name for path in WORKFLOWS.glob("cflite_*.yml"))
    assert names == ["cflite_batch.yml", "cflite_build.yml", "cflite_cron.yml",
                     "cflite_pr.yml"]
    for name in names:
        for action, settings in _steps(_workflow(name)):
            assert action in ("build_fuzzers", "run_fuzzers"), name
            if action == "build_fuzzers":
                assert settings["language"] == "python", name


def _runs(name: str) -> list[dict[str, Any]]:
    return [settings for action, settings in _steps(_workflow(name)) if action == "run_fuzzers"]


def test_the_modes_and_their_budgets() -> None:
    assert [run["mode"] for run in _runs("cflite_pr.yml")] == ["code-change"]
    assert [run["mode"] for run in _runs("cflite_batch.yml")] == ["batch"]
    assert [run["mode"] for run in _runs("cflite_cron.yml")] == ["prune", "coverage"]
    assert _runs("cflite_build.yml") == []
    coverage = [run for run in _runs("cflite_cron.yml") if run["mode"] == "coverage"][0]
    assert coverage["sanitizer"] == "coverage"
    for name in ("cflite_pr.yml", "cflite_batch.yml", "cflite_cron.yml"):
        for run in _runs(name):
            assert 0 < int(run["fuzz-seconds"]) <= 3600, name
    assert "schedule" in _triggers(_workflow("cflite_cron.yml"))
    assert "schedule" in _triggers(_workflow("cflite_batch.yml"))
    assert "pull_request" in _triggers(_workflow("cflite_pr.yml"))


def test_main_builds_are_uploaded_for_pr_fuzzing_to_compare_with() -> None:
    workflow = _workflow("cflite_build.yml")
    assert _triggers(workflow)["push"]["branches"] == ["main"]
    builds = [settings for action, settings in _steps(workflow) if action == "build_fuzzers"]
    assert builds and all(settings["upload-build"] is True for settings in builds)


def test_the_corpus_is_kept_in_a_storage_repository() -> None:
    for name in ("cflite_pr.yml", "cflite_batch.yml", "cflite_cron.yml"):
        for run in _runs(name):
            assert run["storage-repo"].endswith("/tunstack-fuzz-storage.git"), name
            assert "secrets.CFLITE_STORAGE_TOKEN" in run["storage-repo"], name
            assert run["storage-repo-branch"] == "main", name
            assert run["storage-repo-branch-coverage"] == "gh-pages", name


def test_the_documented_budget_is_the_shared_one() -> None:
    text = (ROOT / "docs" / "fuzzing.md").read_text()
    assert "`fuzz-seconds` is the budget of the whole run, shared by all six fuzzers" in text
    assert len(TARGETS) == 6
    assert "tunstack-fuzz-storage" in text and "CFLITE_STORAGE_TOKEN" in text


def test_each_fuzzer_gets_its_options(tmp_path: Path) -> None:
    build = (ROOT / ".clusterfuzzlite" / "build.sh").read_text()
    assert '--options "$OUT/$target.options"' in build
    for target in TARGETS.values():
        assert libfuzzer_options(target) == (f"[libfuzzer]\nmax_len = {target.max_len}\n"
                                             f"dict = {target.name}.dict\n")
    options = tmp_path / "ipv4.options"
    done = subprocess.run([sys.executable, "-m", "fuzz", "seeds", "ipv4", "--out",
                           str(tmp_path / "seeds"), "--options", str(options)],
                          cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert options.read_text() == libfuzzer_options(TARGETS["ipv4"])


def test_the_local_smoke_run_mutates_beyond_the_seeds() -> None:
    script = (ROOT / ".clusterfuzzlite" / "local_build.sh").read_text()
    assert "-runs=$((seeds + 500))" in script
    assert '-max_len="$max_len"' in script
