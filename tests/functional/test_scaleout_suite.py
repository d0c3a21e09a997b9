"""The functional API suite through the load balancers of a scaled-out deployment.

A representative part of ``test_api_images.py`` (glance-api) and of
``test_registry_api.py`` (glance-registry) runs again, unchanged, against
:class:`tests.functional.scaleout.Deployment`: two registries and two glance-apis,
each with workers, on one PostgreSQL database and then on one MariaDB database,
behind HAProxy with the shipped configs. Only the fixtures differ: ``api`` and
``registry`` are the balancers' front ends, so every request (and glance-api's calls
to the registries) goes through HAProxy, and image URIs name the registries' front end.
"""

import uuid

import pytest

from tests.functional import databases, reuse, scaleout, test_api_images
from tests.functional import test_registry_api
from tests.functional.test_api_images import api, image  # noqa: F401 (fixtures)
from tests.functional.test_registry_api import Registry, tenants  # noqa: F401

API_TESTS = ('upload_splits_into_chunks', 'download_concatenates', 'head_returns',
             'download_by_image_uri', 'image_uri_of_an_unknown', 'unknown_and_invisible',
             'queued_image_is_404', 'range_across_chunk_boundaries', 'if_none_match',
             'chunked_upload', 'over_image_size_cap', 'interrupted_upload',
             'declared_size_mismatch', 'chunk_changed_behind', 'silent_corruption',
             'put_data_into_a_queued', 'put_without_data', 'delete_removes_data',
             'admin_registers', 'wrong_method_is_405')
REGISTRY_TESTS = ('crud_round_trip', 'client_supplied_id', 'locations_only_for_the',
                  'test_filters', 'every_sort_key', 'visibility_for_two',
                  'status_transitions', 'bad_input_is_400', 'unknown_routes',
                  'concurrent_writes_and_reads')
globals().update(reuse.select_tests(test_api_images, API_TESTS))
globals().update(reuse.select_tests(test_registry_api, REGISTRY_TESTS))


@pytest.fixture(scope='module', params=['postgresql', 'mysql'])
def deployment(request, tmp_path_factory):
    """Two of each daemon on one database of that kind, behind HAProxy."""
    folder = tmp_path_factory.mktemp('scaleout-' + request.param)
    database = databases.create_database(request.param, folder)
    options = dict(test_api_images.API_OPTIONS,
                   store_file=test_api_images.STORE_FILE_OPTIONS)
    deployment = scaleout.Deployment(folder, database.url, api_options=options)
    try:
        deployment.start()
        deployment.database = database
        yield deployment
    finally:
        deployment.stop()
        database.drop()


@pytest.fixture(scope='module')
def registry(deployment):
    """The registries' front end (what glance-api's registry_urls names)."""
    return Registry(deployment.registry_front, deployment.database)


@pytest.fixture(scope='module')
def api_daemon(deployment):
    """glance-api's front end; its log is both daemons' logs."""
    return deployment.api_front


@pytest.fixture(scope='module')
def datadir(deployment):
    """The file store folder both glance-apis share."""
    return deployment.datadir


def test_requests_are_spread_over_both_servers_of_each_kind(deployment):
    # glance-api's front end keeps each image on one server ("balance uri"), so
    # several image paths reach both; the registries take turns.
    # (One loop each: every glance-api request takes its own turn at the registries.)
    seen = {'api': {scaleout.backend_of(deployment.api_front.url,
                                        '/images/%s' % uuid.uuid4()) for _ in range(16)},
            'registry': {scaleout.backend_of(deployment.registry_front.url)
                         for _ in range(4)}}
    assert seen == {'api': {'api1', 'api2'}, 'registry': {'registry1', 'registry2'}}
