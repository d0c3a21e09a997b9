"""glance.wsgi builds a daemon's paste app from GLANCE_CONFIG_FILE when asked for it."""

import logging
import os

import pytest
import webob

import glance.wsgi

ETC = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), 'etc')


@pytest.fixture
def registry_conf(tmp_path, monkeypatch):
    """A registry conf on SQLite, named by GLANCE_CONFIG_FILE; logging reset after."""
    conf = tmp_path / 'glance-registry.conf'
    conf.write_text('[DEFAULT]\nsql_connection = sqlite:///registry.sqlite\n'
                    'paste_file = %s\n' % os.path.join(ETC, 'glance-registry-paste.ini'))
    monkeypatch.setenv('GLANCE_CONFIG_FILE', str(conf))
    yield conf
    vars(glance.wsgi).pop('registry', None)
    for handler in list(logging.getLogger().handlers):
        logging.getLogger().removeHandler(handler)
        handler.close()


def test_registry_app_is_built_once_from_the_conf_the_environment_names(registry_conf):
    app = glance.wsgi.registry
    assert glance.wsgi.registry is app
    assert webob.Request.blank('/healthcheck').get_response(app).body == b'OK\n'
    assert webob.Request.blank('/images').get_response(app).json == {'images': []}


def test_other_names_are_attribute_errors():
    with pytest.raises(AttributeError):
        glance.wsgi.glance_api
