"""A real Prometheus (Debian's ``prometheus`` package) that scrapes the test daemons.

``tools/test-setup.sh`` installs the package; its own service is never started. The
fixture ``make_prometheus(jobs)`` runs ``prometheus`` on ``127.0.0.1`` on a free port,
with its data in a private folder and a config that scrapes each job's ``/metrics``
every second, and stops it by PID after the test. :meth:`PrometheusService.query` asks
its HTTP query API; :meth:`PrometheusService.wait_for` polls it (bounded) until a
condition holds. Example::

    def test_scraped(make_prometheus, make_api):
        api = make_api(registry_urls)
        prometheus = make_prometheus({'glance-api': api.url})
        prometheus.wait_for('up{job="glance-api"}', lambda value: value == 1)
"""

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request

import pytest

from tests.functional.availability import service_unavailable

_CONFIG = """\
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
"""
_JOB = """\
  - job_name: {job}
    static_configs:
      - targets: ['{target}']
"""


def _free_port():
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


class PrometheusService:
    """One prometheus process.

    :param folder: private folder for its config, data and log.
    :param jobs: ``{job name: base URL}`` of the daemons to scrape.
    """

    def __init__(self, folder, jobs):
        self.folder = str(folder)
        self.port = _free_port()
        self.url = 'http://127.0.0.1:%d' % self.port
        config = _CONFIG + ''.join(
            _JOB.format(job=job, target=urllib.parse.urlsplit(url).netloc)
            for job, url in jobs.items())
        self.config_path = os.path.join(self.folder, 'prometheus.yml')
        with open(self.config_path, 'w') as handle:
            handle.write(config)
        self.log_path = os.path.join(self.folder, 'prometheus.log')
        self.process = None

    def start(self, timeout=60):
        """Start prometheus and wait until it reports ready."""
        binary = shutil.which('prometheus')
        if binary is None:
            service_unavailable('prometheus is not installed (tools/test-setup.sh '
                                'installs Debian\'s package)')
        with open(self.log_path, 'wb') as log:
            self.process = subprocess.Popen(
                [binary, '--config.file=' + self.config_path,
                 '--storage.tsdb.path=' + os.path.join(self.folder, 'data'),
                 '--web.listen-address=127.0.0.1:%d' % self.port],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                with urllib.request.urlopen(self.url + '/-/ready', timeout=5) as answer:
                    if answer.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        with open(self.log_path, 'rb') as log:
            tail = log.read()[-2000:].decode('utf-8', 'replace')
        service_unavailable('prometheus did not become ready: %s' % tail)

    def query(self, expression):
        """Evaluate an instant query; returns ``{labels tuple: float value}``."""
        url = '%s/api/v1/query?%s' % (self.url, urllib.parse.urlencode(
            {'query': expression}))
        with urllib.request.urlopen(url, timeout=10) as answer:
            data = json.load(answer)
        assert data['status'] == 'success', data
        return {tuple(sorted(item['metric'].items())): float(item['value'][1])
                for item in data['data']['result']}

    def wait_for(self, expression, condition, timeout=60):
        """Poll ``expression`` until ``condition(value)`` holds for one of its series.

        :returns: the value that satisfied it.
        :raises AssertionError: naming the last result when ``timeout`` passes.
        """
        deadline = time.monotonic() + timeout
        result = {}
        while time.monotonic() < deadline:
            result = self.query(expression)
            for value in result.values():
                if condition(value):
                    return value
            time.sleep(0.5)
        raise AssertionError('Prometheus never stored a matching %s; last: %r'
                             % (expression, result))

    def stop(self):
        """Stop prometheus by PID."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def make_prometheus(tmp_path):
    """Factory fixture: ``make_prometheus({job: url})`` → a started PrometheusService."""
    started = []

    def make(jobs):
        folder = tmp_path / ('prometheus-%d' % len(started))
        folder.mkdir()
        started.append(PrometheusService(folder, jobs))
        return started[-1].start()

    yield make
    for service in started:
        service.stop()
