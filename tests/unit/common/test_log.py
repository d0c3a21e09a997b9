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


def test_setup_logging_writes_redacted_lines_to_the_log_file(tmp_path):
    path = tmp_path / 'glance.log'
    log.setup_logging({'log_file': str(path), 'log_level': 'INFO'})
    try:
        logging.getLogger('glance.test').info('connecting with key=%s', 's3cr3t')
        for handler in logging.getLogger().handlers:
            handler.flush()
        text = path.read_text()
        assert 'key=***' in text and 's3cr3t' not in text
    finally:
        for handler in list(logging.getLogger().handlers):
            logging.getLogger().removeHandler(handler)
            handler.close()
