"""glance-manage: administer the registry database.

::

    glance-manage [--config-file glance-registry.conf] db sync [--version REV]
    glance-manage [--config-file glance-registry.conf] db version

``db sync`` upgrades the schema to the newest revision (or to ``--version``); ``db
version`` tells the revision the database is at. Both end with one line such as
``registry schema at revision 0001 (newest: 0001)``, or ``registry schema not created
yet (newest: 0001); run glance-manage db sync``. Both read ``sql_connection`` from
the registry's conf file, found like the daemon finds it.
"""

import argparse
import sys

from alembic import util as alembic_util
from sqlalchemy import exc

from glance.common import config, exception
from glance.registry.db import migration, session

PROG = 'glance-manage'


def parse_args(argv):
    """Parse the glance-manage command line."""
    parser = argparse.ArgumentParser(prog=PROG, description='Administer Glance.')
    parser.add_argument('--config-file', help='the registry conf file (default: '
                        'glance-registry.conf in ., ./etc, <prefix>/etc/glance or '
                        '/etc/glance)')
    commands = parser.add_subparsers(dest='category', required=True)
    db_parser = commands.add_parser('db', help='registry database schema')
    db_commands = db_parser.add_subparsers(dest='action', required=True)
    sync = db_commands.add_parser('sync', help='create or upgrade the schema')
    sync.add_argument('--version', default='head',
                      help='revision to upgrade to (default: the newest)')
    db_commands.add_parser('version', help='print the revision the database is at')
    return parser.parse_args(argv)


def describe_revision(current, newest):
    """Say which schema revision the database is at, and the newest one."""
    if current is None:
        return ('registry schema not created yet (newest: %s); run %s db sync'
                % (newest, PROG))
    return 'registry schema at revision %s (newest: %s)' % (current, newest)


def main(argv=None):
    """Run one glance-manage command; returns the exit code."""
    args = parse_args(argv)
    history = migration.REGISTRY
    try:
        conf = config.load_config_file(args.config_file or config.find_config_file('glance-registry.conf'))
        engine = session.create_engine(conf)
        if args.action == 'sync':
            history.upgrade(engine, args.version)
        print(describe_revision(history.current(engine), history.head()))
    except exception.ConfigError as err:
        print('%s: %s' % (PROG, err), file=sys.stderr)
        return 2
    except exc.SQLAlchemyError as err:
        print('%s: database error: %s' % (PROG, session.describe_error(err, detail=True)),
              file=sys.stderr)
        return 1
    except alembic_util.CommandError as err:
        print('%s: %s' % (PROG, err), file=sys.stderr)
        return 1
    return 0
