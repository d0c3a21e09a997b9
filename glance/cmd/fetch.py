"""glance-fetch: the node agent's fetch-and-unbundle (``bin/glance-fetch``).

``glance-fetch IMAGE_URI --dest DIR [--unbundle]`` downloads an image through
glance-api (resuming an interrupted download), verifies its checksum and, with
``--unbundle``, unpacks it safely; see :func:`glance.agent.fetch.fetch_image`, which
Nova can call directly. Failures are one ``glance-fetch: error: ...`` line; the exit
statuses are those of :mod:`glance.cmd.shell`.
"""

import argparse
import os
import sys

from glance.agent import fetch, unbundle
from glance.cli import output, progress
from glance.client import images as image_client
from glance.cmd import shell
from glance.common import auth, config, context, exception

_DESCRIPTION = ('Fetch an image through glance-api into DIR, verify its checksum, and '
                'optionally unbundle it (tar, tgz, gzip, zip; raw is left as is).')
_EPILOG = """\
The image lands in DIR/<image id>: a file, or with --unbundle a directory (tar, tgz,
zip) or the decompressed file (gzip). An interrupted download stays in
DIR/<image id>.part; running the same command again resumes it with a Range request.
An archive member that would land outside the result (.., absolute paths, links
leading out), a device file or fifo, or an archive past --max-size or --max-members is
refused: nothing is left behind and the member is named.

examples:
  glance-fetch http://registry:9191/images/IMAGE_ID --dest /var/lib/nova/images
  glance-fetch IMAGE_URI --dest /srv/images --unbundle --max-size 20G
"""


def _size(text):
    try:
        return config.as_size(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err))


def _positive(text):
    if not text.isdigit() or int(text) <= 0:
        raise argparse.ArgumentTypeError('expected a positive integer, got %r' % text)
    return int(text)


def build_parser():
    """Build the ``glance-fetch`` argument parser."""
    parser = shell.Parser(prog='glance-fetch', description=_DESCRIPTION, epilog=_EPILOG,
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('image', metavar='IMAGE_URI',
                        help='image URI (<registry>/images/<id>) or a bare image id')
    parser.add_argument('--dest', required=True, metavar='DIR',
                        help='folder of the result and of the partial download')
    parser.add_argument('--unbundle', action='store_true',
                        help='unpack by container_format/disk_format or magic bytes')
    parser.add_argument('--max-size', type=_size, default=unbundle.DEFAULT_MAX_SIZE,
                        metavar='SIZE', help='most bytes an archive may unpack to, e.g. '
                        '20G (default 64G)')
    parser.add_argument('--max-members', type=_positive,
                        default=unbundle.DEFAULT_MAX_MEMBERS, metavar='N',
                        help='most members an archive may hold (default %d)'
                        % unbundle.DEFAULT_MAX_MEMBERS)
    parser.add_argument('--api-url', metavar='URL',
                        help='glance-api base URL (env GLANCE_URL; default %s)'
                        % image_client.DEFAULT_API_URL)
    parser.add_argument('--os-auth-token', '--auth-token', metavar='TOKEN',
                        dest='auth_token',
                        help='sent as X-Auth-Token (env OS_AUTH_TOKEN or '
                        'GLANCE_AUTH_TOKEN); without one, OS_AUTH_URL, OS_USERNAME, '
                        'OS_PASSWORD and OS_PROJECT_NAME get one from Keystone v3')
    parser.add_argument('--tenant', metavar='ID', help='X-Tenant-Id (env GLANCE_TENANT)')
    parser.add_argument('--user', metavar='ID', help='X-User-Id (env GLANCE_USER)')
    parser.add_argument('--roles', metavar='R1,R2', help='X-Roles (env GLANCE_ROLES)')
    shell.add_tls_options(parser)
    parser.add_argument('--timeout', type=float, default=image_client.DEFAULT_TIMEOUT,
                        metavar='SECONDS', help='to connect and per socket read '
                        '(default %d)' % image_client.DEFAULT_TIMEOUT)
    parser.add_argument('--json', action='store_true', help='print the result as JSON')
    return parser


def _summary(result):
    lines = ['Fetched image %s to %s (%s%s).' % (
        result.image_id, result.path, output.human_size(result.size),
        ', resumed at byte %d' % result.resumed_from if result.resumed_from else '')]
    if result.verified:
        lines.append('Verified %s.' % ', '.join('%s %s' % pair for pair in result.verified))
    else:
        lines.append('warning: glance-api sent no checksum; the data is not verified')
    if result.format is not None:
        lines.append('Unbundled as %s: %d member(s).' % (result.format, result.members))
    return '\n'.join(lines)


def main(argv=None, environ=None):
    """Run glance-fetch; returns the exit status.

    :param argv: the arguments (default ``sys.argv[1:]``).
    :param environ: the environment for GLANCE_* defaults (default ``os.environ``).
    """
    environ = os.environ if environ is None else environ
    args = build_parser().parse_args(argv)
    ca_file = args.ca_file or environ.get('GLANCE_CA_FILE')
    insecure = args.insecure or shell.insecure_from(environ)
    bar = progress.for_stream(sys.stderr, 'Fetching')
    try:
        try:
            ctx = context.RequestContext(
                tenant=args.tenant or environ.get('GLANCE_TENANT'),
                user=args.user or environ.get('GLANCE_USER'),
                roles=config.as_list(args.roles or environ.get('GLANCE_ROLES')),
                auth_token=auth.TokenSource.from_environ(
                    environ, args.auth_token or environ.get('GLANCE_AUTH_TOKEN'),
                    ca_file, insecure, args.timeout)())
            result = fetch.fetch_image(
                args.image, args.dest,
                api_url=(args.api_url or environ.get('GLANCE_URL')
                         or image_client.DEFAULT_API_URL),
                context=ctx, unbundle=args.unbundle,
                limits=unbundle.Limits(args.max_size, args.max_members),
                timeout=args.timeout, ca_file=ca_file,
                insecure=insecure, progress=bar,
                cert_file=args.cert_file or environ.get('OS_CERT'),
                key_file=args.key_file or environ.get('OS_KEY'))
        finally:
            if bar is not None:
                bar.finish()
    except exception.GlanceException as err:
        print('glance-fetch: error: %s' % err, file=sys.stderr)
        return shell.EXIT_FAILURE
    except OSError as err:
        print('glance-fetch: error: %s' % shell.describe_os_error(err), file=sys.stderr)
        return shell.EXIT_FAILURE
    except KeyboardInterrupt:
        print('glance-fetch: interrupted; run it again to resume', file=sys.stderr)
        return shell.EXIT_INTERRUPTED
    if args.json:
        print(output.to_json({'image_id': result.image_id, 'path': result.path,
                              'size': result.size, 'resumed_from': result.resumed_from,
                              'verified': dict(result.verified), 'format': result.format,
                              'members': result.members}))
    else:
        print(_summary(result))
    return 0
