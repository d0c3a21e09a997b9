"""Secrets never reach log lines; ordinary names are left alone."""

import logging

import pytest

from glance.common import log


@pytest.mark.parametrize('text, secret', [
    ('key=abc123', 'abc123'), ('secret_key=xyz', 'xyz'), ('X-Auth-Token: tok123', 'tok123'),
    ('password="hunter2"', 'hunter2'), ('swift_password=zz9', 'zz9'),
    ('auth_token=t0k', 't0k'), ('access_key=AKIA1', 'AKIA1')])
def test_secret_values_are_masked(text, secret):
    assert secret not in log.redact(text)
    assert '***' in log.redact(text)


@pytest.mark.parametrize('text', ['GET /images?sort_key=name&limit=2',
                                  'property-keyboard=us', 'monkey=1'])
def test_ordinary_names_are_not_masked(text):
    assert log.redact(text) == text


@pytest.fixture
def logged(tmp_path):
    """``logged(message, *args, **options)``: set logging up with ``options`` to a
    file, log one INFO line and return the file's text; handlers removed after."""
    path = tmp_path / 'glance.log'

    def log_one(message, *args, **options):
        log.setup_logging(dict(options, log_file=str(path)))
        logging.getLogger('glance.test').info(message, *args)
        for handler in logging.getLogger().handlers:
            handler.flush()
        return path.read_text()

    yield log_one
    for handler in list(logging.getLogger().handlers):
        logging.getLogger().removeHandler(handler)
        handler.close()


def test_setup_logging_writes_redacted_lines_to_the_log_file(logged):
    text = logged('connecting with key=%s', 's3cr3t', log_level='INFO')
    assert 'key=***' in text and 's3cr3t' not in text


def _record(message, *args, **extra):
    record = logging.LogRecord('glance.test', logging.INFO, __file__, 1, message, args,
                               None)
    record.__dict__.update(extra)
    return record


def test_every_record_carries_the_request_id_of_its_context():
    import contextvars
    record_filter = log.RequestIdFilter()

    def in_request():
        log.set_request_id('req-abc')
        record = _record('inside')
        record_filter.filter(record)
        return record.request_id

    assert contextvars.copy_context().run(in_request) == 'req-abc'
    outside = _record('outside')
    record_filter.filter(outside)
    assert outside.request_id == '-'


def test_json_lines_hold_the_fields_and_mask_secrets():
    import json
    record = _record('GET with key=%s', 's3cr3t', request_id='req-1',
                     fields={'status': '200', 'bytes': 11, 'path': '/x?token=abc'})
    line = log.JsonFormatter().format(record)
    entry = json.loads(line)
    assert (entry['request_id'], entry['status'], entry['bytes']) == ('req-1', '200', 11)
    assert entry['logger'] == 'glance.test' and entry['level'] == 'INFO'
    assert 's3cr3t' not in line and 'abc' not in line


def test_setup_logging_json_option_writes_one_object_per_line(logged):
    import json
    entry = json.loads(logged('hello %s', 'world', log_json='true').splitlines()[-1])
    assert entry['message'] == 'hello world' and entry['request_id'] == '-'


def test_json_client_forwards_the_current_request_id():
    import contextvars
    from glance.common import client

    def in_request():
        log.set_request_id('req-xyz')
        return client.BaseJSONClient('http://127.0.0.1:9191')._headers(None, None)

    assert contextvars.copy_context().run(in_request)['X-Request-Id'] == 'req-xyz'
    assert 'X-Request-Id' not in client.BaseJSONClient(
        'http://127.0.0.1:9191')._headers(None, None)
