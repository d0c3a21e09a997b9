"""The one text form of x-image-meta values, used by glance-api and its clients."""

import pytest

from glance.api import headers
from glance.client import codec
from glance.common import config
from glance.common.header_text import as_header_text


@pytest.mark.parametrize('value, text', [
    (True, 'True'), (False, 'False'), (0, '0'), (1, '1'), (1024, '1024'),
    ('true', 'true'), ('qcow2', 'qcow2'),
])
def test_booleans_are_title_case_and_the_rest_str(value, text):
    assert as_header_text(value) == text


@pytest.mark.parametrize('value', [True, False])
def test_booleans_read_back_as_sent(value):
    assert config.as_bool(as_header_text(value)) is value


def test_server_answers_and_client_requests_write_booleans_alike():
    fields = {'is_public': True, 'protected': False}
    answer = [value for _, value in headers.image_meta_headers(fields,
                                                               show_locations=False)]
    request = [value.decode() for _, value in codec.image_headers(fields)]
    assert answer == request == ['True', 'False']
