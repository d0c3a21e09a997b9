"""Packaging for Glance: the registry (Parallax) and the image proxy (Teller)."""

import setuptools

setuptools.setup(
    name='glance',
    version='0.1.0',
    description='Image registry and streaming image proxy for clouds',
    long_description=open('README.rst', encoding='utf-8').read(),
    long_description_content_type='text/x-rst',
    python_requires='>=3.11',
    packages=setuptools.find_packages(exclude=['tests', 'tests.*']),
    package_data={'glance.registry.db.migrations': ['alembic.ini', 'script.py.mako']},
    install_requires=[
        'eventlet>=0.35',
        'WebOb>=1.8',
        'Routes>=2.5',
        'SQLAlchemy>=2.0.43',  # create_engine(skip_autocommit_rollback=)
        'alembic>=1.12',
        'PasteDeploy>=3.0',
        'httplib2>=0.22',
        # The database drivers chosen by measurement (README.rst, "Choosing the
        # database driver"): psycopg with its C speedups for PostgreSQL, PyMySQL
        # for MariaDB/MySQL.
        'PyMySQL>=1.1',
        'psycopg[binary]>=3.2',
        'blake3>=0.4',
        'oslo.utils>=7.3',
        'prometheus-client>=0.17',
    ],
    extras_require={
        'swift': ['python-swiftclient>=4.4'],
        's3': ['boto3>=1.28'],
        # Token authentication against Keystone (the auth_token paste filter).
        'keystone': ['keystonemiddleware>=10.0'],
        # The other PostgreSQL drivers the registry accepts.
        'pg8000': ['pg8000>=1.30'],
        'psycopg2': ['psycopg2-binary>=2.9', 'psycogreen>=1.0'],
        'all': ['python-swiftclient>=4.4', 'boto3>=1.28', 'keystonemiddleware>=10.0',
                'pg8000>=1.30', 'psycopg2-binary>=2.9', 'psycogreen>=1.0'],
        # tools/bench.sh draws its concurrency chart with matplotlib.
        'bench': ['matplotlib>=3.7'],
    },
    scripts=['bin/glance-registry', 'bin/glance-api', 'bin/glance-manage',
             'bin/glance-nova-manage', 'bin/glance', 'bin/glance-fetch',
             'bin/glance-cache-manage'],
    entry_points={
        'paste.app_factory': [
            'registry = glance.registry.api:app_factory',
            'api = glance.api.router:app_factory',
        ],
        'paste.filter_factory': [
            'catch_errors = glance.middleware.catch_errors:filter_factory',
            'request_id = glance.middleware.request_id:filter_factory',
            'access_log = glance.middleware.access_log:filter_factory',
            'healthcheck = glance.middleware.healthcheck:filter_factory',
            'context = glance.middleware.context:filter_factory',
            'tokens_file = glance.middleware.tokens_file:filter_factory',
            'metrics = glance.middleware.metrics:filter_factory',
            'instance_aware = glance.middleware.instance_aware:filter_factory',
        ],
        'glance.stores': [
            'file = glance.store.filesystem:FilesystemStore',
            'http = glance.store.http:HTTPStore',
            'https = glance.store.http:HTTPStore',
            'swift = glance.store.swift:SwiftStore',
            's3 = glance.store.s3:S3Store',
        ],
    },
    license='Apache-2.0',
    classifiers=['Programming Language :: Python :: 3.11'],
)
