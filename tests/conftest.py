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


def _split(n, generator):
    """A small synthetic split: 8 features, a class that depends on one feature of each mode."""
    import numpy as np
    import torch

    from emma.data.splits import Split

    x = torch.randn(n, 8, generator=generator)
    y = ((x[:, 0] + x[:, 4] + 0.5 * torch.randn(n, generator=generator)) > 1.0).float()
    return Split(x=x, y=y, index=np.arange(n))


@pytest.fixture(scope="session")
def splits():
    """Train 200, validation 120, test 120 synthetic samples (fast engine tests)."""
    import numpy as np
    import torch

    from emma.data.splits import Splits

    g = torch.Generator().manual_seed(0)
    return Splits(_split(200, g), _split(120, g), _split(120, g), np.zeros(8), np.ones(8), 0)


@pytest.fixture(scope="session")
def energies():
    """Two untrained, frozen autoencoders (one per mode) with a fixed Ψ_min."""
    import pandas as pd
    import torch

    from emma.engine.autoencoders import EnergyModels
    from emma.method.autoencoder import DenoisingAutoencoder, freeze

    models = []
    for m in range(2):
        torch.manual_seed(m)
        models.append(freeze(DenoisingAutoencoder(4, 12, 0.01)))
    return EnergyModels(models=models, psi_min=torch.tensor([-6.0, -6.0]), curves=pd.DataFrame(), settings={"test": 1})


#: A chapter of a scratch book: a title, the standard parameters, one cell.
SCRATCH_CHAPTER = '''# %% [markdown]
# # {title}

# %% tags=["parameters"]
profile = "full"
device = "auto"
output_dir = "_build"
seeds = [0, 1, 2]

# %%
print(profile, seeds)
'''


def scratch_book(root: Path, monkeypatch, names, quick: str = "profile: quick\n") -> Path:
    """A book of the chapters ``names`` under ``root`` (SCRATCH_CHAPTER each, two profiles), which emma_book.layout now points at."""
    from emma_book import layout

    (root / "notebooks").mkdir(parents=True)
    for number, name in enumerate(names, start=1):
        (root / "notebooks" / f"{number:02d}_{name}.py").write_text(SCRATCH_CHAPTER.format(title=name.capitalize()))
    (root / "profiles").mkdir()
    (root / "profiles" / "quick.yaml").write_text(quick)
    (root / "profiles" / "full.yaml").write_text("profile: full\n")
    for name, value in (("ROOT", root), ("NOTEBOOKS", root / "notebooks"), ("EXECUTED", root / "book" / "chapters"), ("PROFILES", root / "profiles")):
        monkeypatch.setattr(layout, name, value)
    return root
