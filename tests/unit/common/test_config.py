"""Typed configuration parsing: good values parse, bad ones name option and section."""

import pytest

from glance.common import config
from glance.common.exception import ConfigError


def test_defaults_and_sections_are_read_separately(tmp_path):
    path = tmp_path / 'x.conf'
    path.write_text('[DEFAULT]\nbind_port = 9191\n\n[store:swift]\nkey = s3cr3t\n')
    conf = config.load_config_file(str(path))
    assert conf['bind_port'] == '9191'
    assert conf['config_file'] == str(path)
    assert config.read_section(conf, 'store:swift') == {'key': 's3cr3t'}
    assert config.read_section(conf, 'store:none') == {}
    assert 'bind_port' not in config.read_section(conf, 'store:swift')


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match='no such file'):
        config.load_config_file(str(tmp_path / 'absent.conf'))


@pytest.mark.parametrize('text,expected', [
    ('65536', 65536), ('64K', 65536), ('10MiB', 10 * 1024 ** 2), ('1g', 1024 ** 3)])
def test_sizes_accept_units(text, expected):
    assert config.as_size(text) == expected


@pytest.mark.parametrize('text', ['-1', '10X', 'abc', '1.5M'])
def test_bad_sizes_are_rejected(text):
    with pytest.raises(ValueError):
        config.as_size(text)


def test_options_raise_config_error_naming_option_and_section():
    opts = config.Options({'bind_port': 'ninety', 'debug': 'maybe'}, 'DEFAULT')
    with pytest.raises(ConfigError) as err:
        opts.get_int('bind_port', 9191)
    assert 'bind_port' in str(err.value) and '[DEFAULT]' in str(err.value)
    with pytest.raises(ConfigError, match='debug'):
        opts.get_bool('debug')


def test_int_bounds_are_enforced():
    with pytest.raises(ConfigError, match='<= 65535'):
        config.Options({'port': '70000'}).get_int('port', maximum=65535)
    assert config.Options({}).get_int('port', 5, maximum=10) == 5


def test_lists_and_booleans():
    opts = config.Options({'stores': 'file, swift s3', 'flag': 'Yes'})
    assert opts.get_list('stores') == ['file', 'swift', 's3']
    assert opts.get_bool('flag') is True
    assert opts.get_bool('absent', False) is False


def test_secret_never_shows_in_repr():
    secret = config.Options({'key': 'hunter2'}).get_secret('key')
    assert 'hunter2' not in repr(secret) and 'hunter2' not in str(secret)
    assert secret.reveal() == 'hunter2'


def test_relative_paths_resolve_against_conf_folder(tmp_path):
    opts = config.Options({'log_file': 'glance.log',
                           'config_file': str(tmp_path / 'a.conf')})
    assert opts.get_path('log_file') == str(tmp_path / 'glance.log')


def test_find_config_file_falls_back_to_the_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert config.find_config_file('nothing-here.conf') == 'nothing-here.conf'
    (tmp_path / 'mine.conf').write_text('[DEFAULT]\n')
    assert config.find_config_file('mine.conf') == str(tmp_path / 'mine.conf')
