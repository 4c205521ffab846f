"""One Qdrant version everywhere: the compose image, the version this project tests, the
qdrant-client pin, and (when QDRANT_BIN points at one) the binary the local stack runs."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from harness.stack.local.qdrant import binary_version, client_compatibility
from harness.stack.qdrant_api import QDRANT_IMAGE, TESTED_VERSION

ROOT = Path(__file__).resolve().parents[2]


def _client_pin() -> str:
    m = re.search(r"^qdrant-client==(\S+)$", (ROOT / "scripts/constraints.txt").read_text(),
                  re.M)
    assert m, "scripts/constraints.txt pins no qdrant-client"
    return m.group(1)


def test_compose_image_is_the_tested_version_and_the_client_pin_is_compatible() -> None:
    compose = (ROOT / "docker-compose.ha.yml").read_text()
    m = re.search(r"qdrant/qdrant:v(\d+\.\d+\.\d+)", compose)
    assert m and m.group(1) == TESTED_VERSION
    ok, why = client_compatibility(TESTED_VERSION, _client_pin())
    assert ok, why
    assert f"qdrant/qdrant:v{TESTED_VERSION}" in (ROOT / "docs/docker.md").read_text()


def test_every_qdrant_image_named_anywhere_is_the_tested_version() -> None:
    """The docker substrate once looked for v1.17.0 while compose ran v1.19.0: a user who pulled
    the compose image got the embedded tier, and one who pulled the documented tag got a
    cluster whose image compose could not pull offline."""
    files = [ROOT / "docker-compose.ha.yml", ROOT / "README.md", *(ROOT / "docs").glob("*.md"),
             *(ROOT / "harness").rglob("*.py"), *(ROOT / "scripts").glob("*")]
    tags = {(str(f.relative_to(ROOT)), t) for f in files if f.is_file()
            for t in re.findall(r"qdrant/qdrant:v(\d+\.\d+\.\d+)", f.read_text())}
    assert tags and all(t == TESTED_VERSION for _, t in tags), sorted(tags)
    assert f"qdrant/qdrant:v{TESTED_VERSION}" == QDRANT_IMAGE


@pytest.mark.parametrize(("server", "client", "ok"), [
    ("1.19.0", "1.20.0", True), ("1.20.3", "1.20.0", True), ("1.17.0", "1.20.0", False),
    ("2.0.0", "1.20.0", False), (None, "1.20.0", False)])
def test_client_compatibility_rule(server: str | None, client: str, ok: bool) -> None:
    got, why = client_compatibility(server, client)
    assert got is ok and ("compatible" in why.lower() or "cannot compare" in why)


def test_the_binary_on_qdrant_bin_is_compatible() -> None:
    path = os.environ.get("QDRANT_BIN")
    if not path:
        pytest.skip("QDRANT_BIN is not set: point it at Qdrant's official static build "
                    f"(v{TESTED_VERSION}) to check the binary's version")
    version = binary_version(path)
    assert version is not None, f"{path} --version printed no version"
    ok, why = client_compatibility(version, _client_pin())
    assert ok, why
