"""The pre-fork master's bookkeeping of exited workers (real child processes)."""

import os

from glance.common import metrics_files, prefork


def _exited_child():
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    return pid


def test_every_reaped_worker_is_reported_to_the_shared_metrics(monkeypatch):
    reported = []
    monkeypatch.setattr(metrics_files, 'worker_exited', reported.append)
    master = prefork.Master(server=None, workers=1, reload=None)
    current, old = _exited_child(), _exited_child()
    master.children = {current: (0, 0.0), old: (-1, 0.0)}
    # Wait (without a sleep) until both children are zombies, then reap them.
    while master.children:
        pids = set(master.children)
        master._reap()
        if set(master.children) == pids:
            os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOWAIT)
    assert sorted(reported) == sorted([current, old])
