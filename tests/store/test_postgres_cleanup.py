"""The PostgreSQL clusters a killed test run leaves behind are stopped and removed by the next
run, and only those: a live run's cluster and directories of other names stay."""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.support.postgres import PREFIX, PostgresCluster, remove_abandoned_clusters
from tests.support.waiting import eventually

#: a test run that starts a cluster, says where, and waits to be killed
ORPHANING_RUN = """
import sys, time
from tests.support.postgres import PostgresCluster
cluster = PostgresCluster().start()
print(cluster.root, flush=True)
time.sleep(600)
"""


def _postmaster_pid(root: Path) -> int:
    return int((root / "data" / "postmaster.pid").read_text().split()[0])


def _running(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie no one has reaped yet has stopped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_a_killed_runs_cluster_is_stopped_and_removed_and_a_live_ones_kept(
    postgres_cluster: PostgresCluster,
) -> None:
    run = subprocess.Popen(
        [sys.executable, "-c", ORPHANING_RUN],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[2],
    )
    assert run.stdout is not None
    orphan = Path(run.stdout.readline().strip())
    run.send_signal(signal.SIGKILL)
    run.wait()
    postmaster = _postmaster_pid(orphan)
    assert _running(postmaster)  # the killed run could not stop its cluster
    unrelated = Path(tempfile.mkdtemp(prefix=f"{PREFIX}not-a-pid-"))
    try:
        removed = remove_abandoned_clusters()
        assert orphan in removed
        assert not orphan.exists()
        eventually(lambda: _running(postmaster), lambda up: not up, "the orphan's postgres")
        # this run's own cluster and a directory not named by a cluster are left alone
        assert postgres_cluster.root.exists()
        assert postgres_cluster.root not in removed
        assert unrelated.exists()
        assert postgres_cluster.create_database()
    finally:
        unrelated.rmdir()
