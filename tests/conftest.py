"""Fixtures shared by unit and integration tests."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import INVENTORY
from tests.otlp_receiver import OtlpReceiver, otlp_receiver


@pytest.fixture
def inventory_text() -> str:
    return INVENTORY.read_text()


@pytest.fixture
def write_inventory(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Write inventory text to a temporary platform.yaml and return its path."""

    def write(text: str, name: str = "platform.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write


@pytest.fixture(scope="session")
def short_tmp() -> Iterator[Path]:
    """A short temporary folder (PostgreSQL and sockets dislike long paths)."""
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="ops-test-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def read_record(state_dir: Path) -> dict[str, object]:
    record: dict[str, object] = json.loads((state_dir / "platform.json").read_text())
    return record


@pytest.fixture
def otlp() -> Iterator[OtlpReceiver]:
    """A collector's OTLP/HTTP receiver (a test double) on a free loopback port."""
    with otlp_receiver() as receiver:
        yield receiver
