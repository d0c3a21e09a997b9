"""glance-cache-manage: manage one glance-api's image cache through its admin API.

Commands: ``list``, ``delete ID``, ``delete-all``, ``queue ID... [--wait]``,
``dequeue ID``, ``verify ID``. Connection and identity options are those of
``glance`` (``--url``, ``--tenant``, ``--roles admin``..., or the ``GLANCE_*``
environment variables); the cache API answers admins only. ``--json`` prints what
the API returned. Exit status: 0 success, 1 failure, 2 a bad command line.
"""

import os
import sys
import time

from glance.cli import commands, output
from glance.cmd import shell
from glance.common import exception

#: Seconds between two looks at the cache while ``queue --wait`` waits.
POLL_INTERVAL = 0.5


def _when(epoch):
    return time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(epoch)) if epoch else ''


def _list(session, args):
    status = session.api.cache_status()

    def human():
        cached = output.table(
            ['ID', 'Size', 'Hits', 'Last access', 'Verified at'],
            [[item['id'], output.human_size(item['size']), item['hits'],
              _when(item['last_access']), _when(item['verified_at'])]
             for item in status['cached_images']], right=('Size', 'Hits'))
        filling = output.table(
            ['Filling', 'Size', 'Written'],
            [[item['id'], output.human_size(item['size']),
              output.human_size(item['written'])] for item in status['filling']],
            right=('Size', 'Written'))
        queued = output.table(
            ['Queued', 'Queued at', 'Prefetching'],
            [[item['id'], _when(item['queued_at']), item['prefetching']]
             for item in status['queued_images']])
        return '%s\n\n%s\n\n%s\n\nUsed %s of %s' % (
            cached, filling, queued, output.human_size(status['used']),
            output.human_size(status['max_size']))
    session.emit(status, human)
    return 0


def _delete(session, args):
    session.api.cache_delete(args.image_id)
    session.note('Dropped %s from the cache' % args.image_id)
    return 0


def _delete_all(session, args):
    session.api.cache_delete()
    session.note('Dropped every cached image')
    return 0


def _verify(session, args):
    result = session.api.cache_verify(args.image_id)
    session.emit(result, lambda: '%s: %s' % (result['id'], result['result']))
    return 0 if result['result'] == 'ok' else 1


def _dequeue(session, args):
    session.api.cache_dequeue(args.image_id)
    session.note('Took %s off the prefetch queue' % args.image_id)
    return 0


def _queue(session, args):
    for image_id in args.image_ids:
        session.api.cache_queue(image_id)
        session.note('Queued %s for prefetch' % image_id)
    if not args.wait:
        return 0
    return _wait(session, set(args.image_ids))


def _wait(session, waiting):
    """Show each prefetch's progress until none of ``waiting`` is queued any more."""
    bars = {}
    while True:
        status = session.api.cache_status()
        for fill in status['filling']:
            if fill['id'] in waiting:
                if fill['id'] not in bars:
                    bars[fill['id']] = session.progress('Prefetching %s' % fill['id'])
                if bars[fill['id']] is not None:
                    bars[fill['id']](fill['written'], fill['size'])
        queued = {item['id'] for item in status['queued_images']}
        filling = {item['id'] for item in status['filling']}
        if not (waiting & (queued | filling)):
            break
        time.sleep(POLL_INTERVAL)
    cached = {item['id'] for item in status['cached_images']}
    missing = sorted(waiting - cached)
    for image_id in missing:
        session.note('%s was not cached (gone, inactive, or failed: see the '
                     'glance-api log)' % image_id)
    return 1 if missing else 0


def build_parser():
    """The whole command line of ``glance-cache-manage``."""
    connection = shell.connection_options()
    parser = shell.Parser(prog='glance-cache-manage', parents=[connection],
                          description='Manage the image cache of one glance-api '
                          '(admins only).')
    sub = parser.add_subparsers(dest='command', metavar='COMMAND', required=True)

    def command(name, func, help_text):
        cmd = sub.add_parser(name, help=help_text, description=help_text,
                             parents=[connection])
        cmd.set_defaults(func=func)
        return cmd

    command('list', _list, 'cached, filling and queued images; bytes used and the cap')
    command('delete', _delete, 'drop one cached image').add_argument('image_id')
    command('delete-all', _delete_all, 'drop every cached image')
    command('verify', _verify, 'check one cached image against the registry and '
            'hash its file again (exit 1 unless ok)').add_argument('image_id')
    queue = command('queue', _queue, 'queue images for prefetch')
    queue.add_argument('image_ids', nargs='+', metavar='image_id')
    queue.add_argument('--wait', action='store_true',
                       help='show progress until the prefetches end')
    command('dequeue', _dequeue, 'take an image off the prefetch queue').add_argument(
        'image_id')
    return parser


def main(argv=None, environ=None):
    """Run one command; returns the exit status."""
    args = shell.parse_args(argv, os.environ if environ is None else environ,
                            build_parser())
    session = commands.Session(args)
    try:
        return args.func(session, args)
    except exception.GlanceException as err:
        print('glance-cache-manage: error: %s' % err, file=sys.stderr)
        return shell.EXIT_FAILURE
    except KeyboardInterrupt:
        print('glance-cache-manage: interrupted', file=sys.stderr)
        return shell.EXIT_INTERRUPTED

