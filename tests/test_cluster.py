"""A run on a multi-node local Ray cluster equals the single-node run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).with_name("cluster_run.py")


def test_two_node_cluster_gives_the_single_node_result():
    """Hospitals spread over two nodes, no actor reads the driver's data file, same numbers."""
    completed = subprocess.run(
        [sys.executable, str(SCRIPT)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    runs = json.loads(completed.stdout.strip().splitlines()[-1])

    cluster, single = runs["cluster"], runs["single"]
    assert len(cluster["nodes"]) == 2, cluster["nodes"]
    assert sorted(cluster["nodes"].values()) == [1, 1]
    assert not cluster["data_file_exists"] and not single["data_file_exists"]
    assert cluster["accuracy"] == single["accuracy"]
    assert cluster["loss"] == single["loss"]
    assert cluster["norms"] == single["norms"]
