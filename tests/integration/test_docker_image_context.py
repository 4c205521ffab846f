"""The app / simulator image's build context is enough to build and run what the image runs.

No engine here, so the Dockerfile's own steps are replayed on the context Docker would send
(the repository filtered by ``docker/harness.Dockerfile.dockerignore``): every COPY source is
there, ``pip wheel`` builds the package from it (build isolation, as in the image), and the wheel
holds the modules the containers start.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from harness.stack.docker import configs

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "docker" / "harness.Dockerfile"
IGNORE = ROOT / "docker" / "harness.Dockerfile.dockerignore"


def _pattern(p: str) -> re.Pattern[str]:
    out = ""
    i = 0
    while i < len(p):
        if p.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif p.startswith("**", i):
            out, i = out + ".*", i + 2
        elif p[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif p[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(p[i]), i + 1
    return re.compile(out + r"\Z")


def _included(rel: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Docker's rule: the last matching pattern wins; a pattern matching a parent matches too."""
    parts = rel.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    keep = True
    for negate, pat in rules:
        if any(pat.match(p) for p in prefixes):
            keep = negate
    return keep


def _rules() -> list[tuple[bool, re.Pattern[str]]]:
    rules = []
    for line in IGNORE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            negate = line.startswith("!")
            rules.append((negate, _pattern(line.lstrip("!").rstrip("/"))))
    return rules


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("context")
    rules = _rules()
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.splitlines()
    for rel in tracked:
        if _included(rel, rules) and (ROOT / rel).is_file():
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, out / rel)
    return out


def test_the_ignore_rules_behave_like_docker() -> None:
    rules = _rules()
    assert _included("harness/stack/docker/layout.py", rules)
    assert _included("fixtures/corpus/documents.jsonl", rules)
    assert not _included("tests/unit/test_docker_layout.py", rules)
    assert not _included(".venv/bin/python", rules)
    assert not _included("harness/__pycache__/x.pyc", rules)


def test_every_copy_source_is_in_the_context(context: Path) -> None:
    sources = []
    for line in DOCKERFILE.read_text().splitlines():
        words = line.split()
        if words[:1] == ["COPY"]:
            literal = [w for w in words[1:-1] if not any(c in w for c in "*?[")]
            # a wildcard source is optional by design (e.g. ``.image-wheel[s]``, the offline
            # wheelhouse): Docker needs only one source of the line to match
            assert literal, f"every source of {line!r} is a wildcard that may match nothing"
            sources += literal
    assert sources and all((context / s).exists() for s in sources), sources
    corpus = configs.CORPUS_PATH.removeprefix("/opt/chaos-harness/")
    assert (context / corpus).is_file()  # where RAG_CORPUS points inside the image


def test_the_package_builds_from_the_context(context: Path, tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                           str(tmp_path), str(context)], capture_output=True, text=True,
                          timeout=540, check=False)
    if proc.returncode != 0 and ("Could not find a version" in proc.stderr
                                 or "NewConnectionError" in proc.stderr):
        pytest.skip(f"PyPI unreachable for the build backend: {proc.stderr.strip()[-300:]}")
    assert proc.returncode == 0, proc.stderr
    wheel = next(tmp_path.glob("chaos_harness-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for module in ("reference_app/__main__.py", "harness/simulators/provider.py",
                   "harness/stack/docker/layout.py", "harness/knobs.py"):
        assert module in names, module
