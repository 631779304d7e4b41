import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# The tests read HTRU2 from the shared folder beside the checkout unless told otherwise.
os.environ.setdefault("EMMA_DATA_DIR", str(ROOT.parent / "shared" / "data"))
os.environ.setdefault("EMMA_QUIET", "1")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT
