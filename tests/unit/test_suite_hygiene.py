"""The suite runs the same on any clean clone: no skips, no fixed waits, no paths of one machine."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
HERE = Path(__file__).resolve()

#: Where a sleep is not a wait for something: the poll interval of the one waiting helper, and the
#: simulated latency of fake tool servers.
SLEEP_ALLOWED = {
    "tests/waiting.py": "the pause between two checks of wait_until",
    "tests/fakes/": "fake servers simulate a tool's latency",
    "tests/integration/test_jira_connector.py": "a fake site's simulated latency (_BulkAnswerAfterNextSearch)",
}
#: Files that describe a container's file system, not a machine's.
CONTAINER_FILES = {"Dockerfile", "docker-compose.yml", "docker-compose.prod.yml", ".dockerignore"}
SKIPPED_DIRS = {".git", ".venv", "node_modules", "__pycache__", ".data", ".tools", "fixtures"}
TEXT_SUFFIXES = {".py", ".md", ".sh", ".toml", ".yml", ".yaml", ".txt", ".cfg", ".ini", ".json", ".js", ".ts"}

SKIP = re.compile(r"pytest\.skip\b|\.skipif\b|importorskip\b|mark\.skip\b|mark\.xfail\b|unittest\.skip")
FIXED_WAIT = re.compile(r"\btime\.sleep\(|\basyncio\.sleep\(|\bwait_for_timeout\(")
MACHINE_PATH = re.compile(r"(?<![\w.:/-])(/work/|/root/|/home/\w|/Users/\w)|\b[A-Z]:\\Users\\")


def _test_files() -> list[Path]:
    return sorted(p for p in TESTS.rglob("*.py") if "node_modules" not in p.parts and p != HERE)


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _repository_files() -> list[Path]:
    """The tracked files (git), or on a copy without git every file outside build and tool folders."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=60
        ).stdout.decode()
        paths = [ROOT / name for name in listed.split("\0") if name]
    except (OSError, subprocess.SubprocessError):
        paths = [p for p in ROOT.rglob("*") if p.is_file()]
    return [
        p
        for p in paths
        if p.is_file()
        and not (set(p.relative_to(ROOT).parts[:-1]) & SKIPPED_DIRS)
        and not any(part.startswith((".web", ".states")) for part in p.relative_to(ROOT).parts)
        and (p.suffix in TEXT_SUFFIXES or p.name == "Makefile")
        and p.name not in CONTAINER_FILES
    ]


def test_no_test_is_skipped_or_expected_to_fail() -> None:
    found = [
        f"{_relative(path)}:{number}: {line.strip()}"
        for path in _test_files()
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if SKIP.search(line)
    ]
    assert not found, "tests must run everywhere (copy what they need into tests/fixtures):\n" + "\n".join(found)


def test_tests_wait_for_conditions_not_for_time() -> None:
    found = [
        f"{_relative(path)}:{number}: {line.strip()}"
        for path in _test_files()
        if not any(_relative(path).startswith(allowed) for allowed in SLEEP_ALLOWED)
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if FIXED_WAIT.search(line)
    ]
    assert not found, (
        "wait for the condition instead (tests.waiting.wait_until, Playwright's expect, "
        "tests.e2e.page_waits):\n" + "\n".join(found)
    )


def test_no_path_of_one_machine_in_the_repository() -> None:
    found = [
        f"{_relative(path)}:{number}: {line.strip()[:160]}"
        for path in _repository_files()
        if path != HERE
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if MACHINE_PATH.search(line)
    ]
    assert not found, "use paths relative to the repository (Path(__file__)) or tempfile:\n" + "\n".join(found)
