"""Where the metric files of a daemon's processes live (Prometheus multi-process mode).

``prometheus_client`` picks its mode once, when it is first imported: with
``PROMETHEUS_MULTIPROC_DIR`` set, every process writes its metric values to files of
its own in that directory and a scrape of any one of them sums them all, which is what
a daemon with several pre-forked workers needs. So a daemon calls :func:`prepare`
before it loads its paste app (and so before anything imports
:mod:`glance.common.metrics`):

* ``PROMETHEUS_MULTIPROC_DIR`` already set (e.g. ``Environment=`` in a systemd unit
  with ``RuntimeDirectory=``): that directory is used; files a previous run left there
  are removed first, or their counts would be added to this run's;
* otherwise a private temporary directory is made, and removed when the process that
  made it exits.

This module imports nothing from ``prometheus_client`` at load time, on purpose.
"""

import atexit
import glob
import os
import shutil
import tempfile

ENV = 'PROMETHEUS_MULTIPROC_DIR'


def prepare():
    """Set up the metric directory for this daemon and its future workers.

    :returns: the directory's path.
    """
    directory = os.environ.get(ENV)
    if directory:
        os.makedirs(directory, exist_ok=True)
        for stale in glob.glob(os.path.join(directory, '*.db')):
            os.remove(stale)
        return directory
    directory = tempfile.mkdtemp(prefix='glance-metrics-')
    os.environ[ENV] = directory
    owner = os.getpid()

    def remove():
        # Forked workers run atexit handlers too; only the maker removes the folder.
        if os.getpid() == owner:
            shutil.rmtree(directory, ignore_errors=True)

    atexit.register(remove)
    return directory


def worker_exited(pid):
    """Drop a dead worker's in-flight gauges (its counters keep counting in the sums).

    :param pid: the process id of the worker that exited.
    """
    if os.environ.get(ENV):
        from prometheus_client import multiprocess
        multiprocess.mark_process_dead(pid)
