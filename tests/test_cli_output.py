"""How the command line writes to a file or a pipe."""

from __future__ import annotations

from pathlib import Path

from medfed_ray.checkpoint import checkpoint_round
from medfed_ray.cli.common import PIPE_WIDTH, make_console


def test_tables_written_to_a_pipe_are_laid_out_wide(monkeypatch):
    """Not a terminal and no COLUMNS: wide enough for the benchmark tables."""
    monkeypatch.delenv("COLUMNS", raising=False)

    console = make_console()

    assert not console.is_terminal
    assert console.width == PIPE_WIDTH


def test_columns_set_by_the_user_still_win(monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")

    assert make_console().width == 100


def test_the_resume_header_reads_the_round_from_the_checkpoint_folder():
    assert checkpoint_round(Path("run/checkpoints/round-000012")) == 12
