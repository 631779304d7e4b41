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


def test_a_listing_read_makes_its_reader_stale_when_a_matching_table_appears(tmp_path, monkeypatch):
    from emma.util.outputs import read_listing
    from emma_book.rerun import current_reads, logged_reads, recording_reads

    tables = tmp_path / "tables"
    tables.mkdir()
    (tables / "a_claims.csv").write_text("id\n")
    (tables / "book_claims.csv").write_text("id\n")
    parameters = {"output_dir": str(tmp_path)}
    with recording_reads(tmp_path / "reads.log") as log:
        assert [p.name for p in read_listing(tables, "*_claims.csv", exclude=["book_claims.csv"])] == ["a_claims.csv"]
        reads = logged_reads(log, parameters)
    assert list(reads) == ["tables/*_claims.csv!book_claims.csv"]
    assert current_reads(reads, parameters) == reads  # nothing changed
    (tables / "book_claims.csv").write_text("id\nnew\n")  # the reader's own output does not count
    assert current_reads(reads, parameters) == reads
    (tables / "my_topic_claims.csv").write_text("id\n")  # an extension's table appears
    assert current_reads(reads, parameters) != reads


def test_a_kernel_that_outlived_its_settled_run_cannot_bring_the_run_folder_back(tmp_path, monkeypatch):
    import pandas as pd
    import pytest

    from emma.util.outputs import RUN_DIR, save_table

    run = tmp_path / "runs" / "01_writer-gone"  # settled (removed) by the next run while the old kernel still writes
    monkeypatch.setenv(RUN_DIR, str(run))
    with pytest.raises(RuntimeError, match="the run folder .* is gone"):
        save_table(pd.DataFrame({"value": [1]}), "writer_t0", tmp_path)
    assert not run.exists() and not (tmp_path / "tables" / "writer_t0.csv").exists()
    run.mkdir(parents=True)  # a live run: its copy is written inside it
    assert save_table(pd.DataFrame({"value": [1]}), "writer_t0", tmp_path) == run / "tables" / "writer_t0.csv"
