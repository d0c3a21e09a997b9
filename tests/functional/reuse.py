"""Run a functional test module's tests again in another deployment.

A module that imports the tests :func:`select_tests` picks (and the fixtures they
use) and defines the fixtures that differ (a server, a deployment) runs the same
tests against its own daemons; see ``test_api_gunicorn.py`` and
``test_scaleout_suite.py``.
"""


def select_tests(module, parts):
    """The test functions of ``module`` whose names contain one of ``parts``.

    :returns: ``{name: function}``, for the importing module's ``globals()``.
    :raises AssertionError: when a part matches no test (a renamed test would
        otherwise leave silently).
    """
    selected = {name: test for name, test in vars(module).items()
                if name.startswith('test_') and any(part in name for part in parts)}
    missing = [part for part in parts if not any(part in name for name in selected)]
    assert not missing, 'no test of %s matches %s' % (module.__name__, missing)
    return selected
