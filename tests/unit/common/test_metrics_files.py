"""The metric directory a daemon prepares before prometheus_client is imported."""

import os

from glance.common import metrics_files


def test_a_configured_directory_is_used_and_emptied_of_old_files(tmp_path, monkeypatch):
    folder = tmp_path / 'metrics'
    folder.mkdir()
    (folder / 'counter_123.db').write_bytes(b'old')
    (folder / 'keep.txt').write_text('not ours')
    monkeypatch.setenv(metrics_files.ENV, str(folder))
    assert metrics_files.prepare() == str(folder)
    assert sorted(os.listdir(folder)) == ['keep.txt']


def test_without_one_a_private_directory_is_made(monkeypatch):
    monkeypatch.setenv(metrics_files.ENV, '')
    folder = metrics_files.prepare()
    try:
        assert os.environ[metrics_files.ENV] == folder and os.path.isdir(folder)
        assert os.path.basename(folder).startswith('glance-metrics-')
    finally:
        os.rmdir(folder)
