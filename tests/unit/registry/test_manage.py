"""glance-manage db sync / db version on a SQLite file."""

import pytest
import sqlalchemy as sa

from glance.cmd import manage
from glance.registry.db import migration


@pytest.fixture
def conf_file(tmp_path):
    path = tmp_path / 'glance-registry.conf'
    path.write_text('[DEFAULT]\nsql_connection = sqlite:///state.sqlite\n')
    return str(path)


def test_version_then_sync_then_version(conf_file, tmp_path, capsys):
    assert manage.main(['--config-file', conf_file, 'db', 'version']) == 0
    assert capsys.readouterr().out == ('registry schema not created yet (newest: %s); '
                                       'run glance-manage db sync\n'
                                       % migration.REGISTRY.head())
    assert manage.main(['--config-file', conf_file, 'db', 'sync']) == 0
    head = migration.REGISTRY.head()
    current = 'registry schema at revision %s (newest: %s)\n' % (head, head)
    assert capsys.readouterr().out == current
    assert manage.main(['--config-file', conf_file, 'db', 'version']) == 0
    assert capsys.readouterr().out == current
    engine = sa.create_engine('sqlite:///%s' % (tmp_path / 'state.sqlite'))
    assert 'images' in sa.inspect(engine).get_table_names()
    engine.dispose()


def test_sync_to_an_unknown_revision_fails_cleanly(conf_file, capsys):
    assert manage.main(['--config-file', conf_file, 'db', 'sync', '--version',
                        'nope']) == 1
    assert 'nope' in capsys.readouterr().err


def test_blocking_driver_is_a_config_error(tmp_path, capsys):
    path = tmp_path / 'bad.conf'
    path.write_text('[DEFAULT]\nsql_connection = postgresql://u:pw@127.0.0.1/g\n')
    assert manage.main(['--config-file', str(path), 'db', 'version']) == 2
    err = capsys.readouterr().err
    assert 'postgresql+psycopg' in err and 'pw' not in err


def test_unreachable_database_is_reported_without_traceback(tmp_path, capsys):
    path = tmp_path / 'down.conf'
    path.write_text('[DEFAULT]\nsql_connection = mysql+pymysql://u:pw@127.0.0.1:1/g\n')
    assert manage.main(['--config-file', str(path), 'db', 'sync']) == 1
    err = capsys.readouterr().err
    assert 'OperationalError' in err and 'Traceback' not in err and ':pw' not in err


def test_missing_conf_file(tmp_path, capsys):
    assert manage.main(['--config-file', str(tmp_path / 'nope.conf'), 'db',
                        'version']) == 2
    assert 'no such file' in capsys.readouterr().err
