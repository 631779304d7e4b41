"""Specifications of the chapters' output files (emma.util.outputs)."""
import os
import stat

import pandas as pd

from emma.util.outputs import save_table


def test_outputs_get_the_modes_of_the_umask_not_those_of_a_temporary_file(tmp_path):
    old = os.umask(0o022)
    try:
        path = save_table(pd.DataFrame({"a": [1]}), "modes", tmp_path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")], "no temporary file is left behind"
