"""Fixtures shared by the HIL tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hil.fake_board import TOKEN


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    """A token file the fake board accepts (owner-only, as the host requires)."""
    path = tmp_path / "token"
    path.write_text(TOKEN)
    path.chmod(0o600)
    return path
