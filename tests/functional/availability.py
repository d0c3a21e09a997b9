"""What a functional test does when a real service it needs is not there."""

import os

import pytest


def service_unavailable(message):
    """Skip the test, or fail it under CI (``CI=true``), where every service must run.

    :param message: names the service and why it is unavailable.
    """
    if os.environ.get('CI', '').lower() in ('1', 'true', 'yes'):
        pytest.fail(message)
    pytest.skip(message)
