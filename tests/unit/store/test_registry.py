"""Unit tests of StoreRegistry: loading plugins, configuration errors, dispatch."""

import textwrap

import pytest

from glance.common.exception import ConfigError
from glance.store import StoreRegistry
from glance.store.base import BadLocation, BadStoreConfiguration
from glance.store.filesystem import FilesystemStore
from glance.store.http import HTTPStore
from glance.store.s3 import S3Store
from glance.store.swift import SwiftStore
from tests.unit.api.memory_store import MemoryStore


@pytest.fixture
def conf_file(tmp_path):
    """Write a glance-api.conf with the given text; return the conf dict for it."""
    def write(text):
        path = tmp_path / 'glance-api.conf'
        path.write_text(textwrap.dedent(text))
        return {'config_file': str(path)}
    return write


def memory_conf(**options):
    options.setdefault('enabled_stores', 'memory')
    options.setdefault('default_store', 'memory')
    return options


def test_defaults_load_file_http_and_https_from_entry_points(conf_file, tmp_path):
    conf = conf_file("""
        [store:file]
        filesystem_store_datadir = %s
        chunk_size = 64K
        [store:https]
        timeout = 7
        """ % (tmp_path / 'images'))
    registry = StoreRegistry(conf)
    assert registry.schemes == ('file', 'http', 'https')
    assert isinstance(registry.default_store.store, FilesystemStore)
    assert registry.default_store.chunk_size == 65536
    http, https = registry.for_location('http://h/x'), registry.for_location('HTTPS://h/x')
    assert isinstance(http.store, HTTPStore) and isinstance(https.store, HTTPStore)
    assert (http.name, http.timeout, https.name, https.timeout) == ('http', 60, 'https', 7)


def test_swift_and_s3_load_from_entry_points_with_their_sections(conf_file):
    conf = conf_file("""
        [DEFAULT]
        enabled_stores = swift s3
        default_store = s3
        [store:swift]
        auth_url = http://127.0.0.1:8080/auth/v1.0
        user = test:tester
        key = sEcReT-unit-swift-key
        [store:s3]
        access_key = test:tester
        secret_key = sEcReT-unit-s3-secret
        bucket = images
        """)
    conf.update(enabled_stores='swift s3', default_store='s3')
    registry = StoreRegistry(conf)
    assert isinstance(registry.for_location('swift://glance/x').store, SwiftStore)
    assert isinstance(registry.default_store.store, S3Store)
    assert registry.default_store.location_for('i', 0) == 's3://images/i-00000'


def test_explicit_mapping_accepts_classes_and_import_strings():
    for target in (MemoryStore, 'tests.unit.api.memory_store:MemoryStore'):
        registry = StoreRegistry(memory_conf(), {'memory': target})
        assert isinstance(registry.default_store.store, MemoryStore)
        assert registry.for_location('memory:///x') is registry.default_store


@pytest.mark.parametrize('conf,classes,message', [
    (memory_conf(enabled_stores='memory nfs'), {'memory': MemoryStore},
     "no store plugin serves scheme 'nfs'"),
    (memory_conf(enabled_stores='memory, memory'), {'memory': MemoryStore},
     "store 'memory' is listed twice"),
    (memory_conf(default_store='swift'), {'memory': MemoryStore},
     "store 'swift' is not in enabled_stores"),
    (memory_conf(), {'memory': 'glance_no_such_library.store:Store'},
     "store 'memory' needs the Python module 'glance_no_such_library', which is not "
     "installed"),
    (memory_conf(), {'memory': 'tests.unit.api.memory_store:NoSuchClass'},
     'names no class'),
    (memory_conf(), {'memory': dict}, 'is not a glance Store class'),
    (memory_conf(enabled_stores='ram', default_store='ram'), {'ram': MemoryStore},
     "MemoryStore does not serve scheme 'ram'"),
])
def test_bad_store_setups_stop_startup_with_a_config_error(conf, classes, message):
    with pytest.raises(ConfigError) as caught:
        StoreRegistry(conf, classes)
    assert message in str(caught.value)


def test_a_read_only_default_store_is_a_config_error():
    with pytest.raises(ConfigError, match="store 'http' is read-only"):
        StoreRegistry({'enabled_stores': 'http', 'default_store': 'http'})


def test_an_unknown_scheme_from_entry_points_is_a_config_error():
    with pytest.raises(ConfigError, match="no store plugin serves scheme 'nfs'"):
        StoreRegistry({'enabled_stores': 'file nfs'})


def test_a_scheme_claimed_by_two_installed_plugins_is_a_config_error(tmp_path,
                                                                     monkeypatch):
    dist = tmp_path / 'other_glance_stores-1.0.dist-info'
    dist.mkdir()
    (dist / 'METADATA').write_text('Metadata-Version: 2.1\nName: other-glance-stores\n'
                                   'Version: 1.0\n')
    (dist / 'entry_points.txt').write_text('[glance.stores]\nswift = other.swift:Store\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigError, match="scheme 'swift' is claimed by both"):
        StoreRegistry({'enabled_stores': 'file'})


def test_a_store_option_error_names_the_store_section(conf_file):
    with pytest.raises(BadStoreConfiguration) as caught:
        StoreRegistry(conf_file('[store:http]\n'))
    assert caught.value.section == 'store:file'
    assert caught.value.option == 'filesystem_store_datadir'


def test_for_location_refuses_schemes_that_are_not_enabled():
    registry = StoreRegistry(memory_conf(), {'memory': MemoryStore})
    with pytest.raises(BadLocation, match='no enabled store serves swift://'):
        registry.for_location('swift://glance/x')
    with pytest.raises(BadLocation, match='credentials'):
        registry.for_location('memory://user:pw@x/y')


def test_registries_are_independent_objects():
    first = StoreRegistry(memory_conf(), {'memory': MemoryStore})
    second = StoreRegistry(memory_conf(), {'memory': MemoryStore})
    first.default_store.add('memory:///x', iter([b'x']))
    assert second.default_store.objects == {}
