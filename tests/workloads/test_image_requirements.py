"""Every workload image installs exactly what the toolkit's lock pins: no drift between image and venv."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)")
# Installed from PyPI's CPU index in the images (a `+cpu` local label), pinned without it in the lock.
LOCAL_LABELS = {"torch": "+cpu"}
IMAGES = sorted(path.parent.name for path in (ROOT / "workloads").glob("*/requirements.txt"))


def _pins(path: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in path.read_text().splitlines():
        match = PIN.match(line.strip())
        if match:
            pins[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(2)
    return pins


def test_every_lifecycle_and_rag_image_has_requirements() -> None:
    assert IMAGES == ["monitoring", "rag", "serving", "training"]


@pytest.mark.parametrize("image", IMAGES)
def test_image_pins_match_the_lock(image: str) -> None:
    lock = _pins(ROOT / "requirements.lock")
    image_pins = _pins(ROOT / "workloads" / image / "requirements.txt")
    assert image_pins, f"workloads/{image}/requirements.txt pins nothing"
    mismatched = {
        name: (version, lock.get(name))
        for name, version in image_pins.items()
        if name != "setuptools" and version.removesuffix(LOCAL_LABELS.get(name, "")) != lock.get(name)
    }
    assert mismatched == {}, (
        f"workloads/{image}/requirements.txt disagrees with requirements.lock: {mismatched}"
    )


@pytest.mark.parametrize("image", IMAGES)
def test_image_dockerfile_pins_its_base_by_digest_and_runs_as_non_root(image: str) -> None:
    dockerfile = (ROOT / "workloads" / image / "Dockerfile").read_text()
    assert re.search(r"^FROM \S+@sha256:[0-9a-f]{64}", dockerfile, re.MULTILINE)
    assert re.search(r"^USER 10001:10001$", dockerfile, re.MULTILINE)
    assert re.search(r"^HEALTHCHECK ", dockerfile, re.MULTILINE)
