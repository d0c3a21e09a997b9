"""glance: the command-line client (``bin/glance``).

This module holds the whole command line (every command, flag and help text) and the
one place where failures become a single ``glance: error: ...`` line and an exit
status; the commands themselves live in :mod:`glance.cli.commands`.

Exit status: 0 success, 1 failure (server, network, checksum, local file), 2 a bad
command line, 130 interrupted, 141 stdout closed early (e.g. piped into ``head``).
"""

import argparse
import os
import sys

import glance
from glance.cli import commands
from glance.client import images as image_client
from glance.common import auth, exception
from glance.registry.client import DEFAULT_REGISTRY_URL

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141

#: Connection options: flag, environment variable, default.
_ENV_DEFAULTS = (('url', 'GLANCE_URL', image_client.DEFAULT_API_URL),
                 ('registry_url', 'GLANCE_REGISTRY_URL', DEFAULT_REGISTRY_URL),
                 ('auth_token', 'GLANCE_AUTH_TOKEN', None),
                 ('tenant', 'GLANCE_TENANT', None),
                 ('user', 'GLANCE_USER', None),
                 ('roles', 'GLANCE_ROLES', None),
                 ('ca_file', 'GLANCE_CA_FILE', None),
                 ('cert_file', 'OS_CERT', None),
                 ('key_file', 'OS_KEY', None),
                 ('timeout', 'GLANCE_TIMEOUT', '60'))

_DESCRIPTION = 'Command-line client of Glance: the registry (Parallax) and glance-api (Teller).'
_EPILOG = """\
Reads of metadata (index, details, show) go to the registry; add, update, delete and
download go through glance-api. Connection options may come before or after the
command, and fall back to the GLANCE_* environment variables.

Sharing: an image is private to its owner tenant, shared with member tenants, or
public to everyone:
  glance member-create IMAGE_ID TENANT [--can-share]
  glance member-list --image-id IMAGE_ID      (or --member-id TENANT)
  glance update IMAGE_ID is_public=true

examples:
  glance index
  glance details disk_format=raw os=linux --sort-key name --sort-dir asc
  glance add name="Ubuntu 10.10" is_public=true disk_format=raw container_format=bare \\
      --file ubuntu.img
  gzip -dc disk.img.gz | glance add name=disk disk_format=raw container_format=bare --file -
  glance download IMAGE_ID --file disk.img
"""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (usage stays behind --help)."""

    def error(self, message):
        """Print ``<prog>: error: <message>`` and exit with status 2."""
        self.exit(EXIT_USAGE, '%s: error: %s (see %s --help)\n'
                  % (self.prog, message, self.prog))


def _pair(text):
    """argparse type of ``KEY=VALUE``."""
    key, sep, value = text.partition('=')
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError('expected KEY=VALUE, got %r' % text)
    return key.strip(), value


def _positive(text):
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number <= 0:
        raise argparse.ArgumentTypeError('expected a positive integer, got %r' % text)
    return number


def add_tls_options(group):
    """Add the TLS options ``glance`` and ``glance-fetch`` share to ``group``."""
    group.add_argument('--ca-file', metavar='PEM',
                       help='CA bundle trusted for https (env GLANCE_CA_FILE)')
    group.add_argument('--cert-file', '--os-cert', metavar='PEM', dest='cert_file',
                       help='client certificate for servers that require one '
                       '(client_ca_file) (env OS_CERT)')
    group.add_argument('--key-file', '--os-key', metavar='PEM', dest='key_file',
                       help='private key of --cert-file (env OS_KEY)')
    group.add_argument('--insecure', action='store_true',
                       help='skip TLS certificate verification (env GLANCE_INSECURE=1)')


def insecure_from(environ):
    """True when ``GLANCE_INSECURE`` asks to skip TLS verification (1, true, yes)."""
    return environ.get('GLANCE_INSECURE', '').lower() in ('1', 'true', 'yes')


def connection_options():
    """Options accepted before or after the command (no defaults: see _ENV_DEFAULTS)."""
    options = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    group = options.add_argument_group('connection and identity')
    group.add_argument('--url', metavar='URL',
                       help='glance-api base URL (env GLANCE_URL; default %s)'
                       % image_client.DEFAULT_API_URL)
    group.add_argument('--registry-url', metavar='URL',
                       help='registry base URL (env GLANCE_REGISTRY_URL; default %s)'
                       % DEFAULT_REGISTRY_URL)
    group.add_argument('--os-auth-token', '--auth-token', metavar='TOKEN',
                       dest='auth_token',
                       help='sent as X-Auth-Token (env OS_AUTH_TOKEN or GLANCE_AUTH_TOKEN);'
                       ' without one, OS_AUTH_URL, OS_USERNAME, OS_PASSWORD and '
                       'OS_PROJECT_NAME (with OS_USER_DOMAIN_ID/NAME and '
                       'OS_PROJECT_DOMAIN_ID/NAME) get one from Keystone v3')
    group.add_argument('--tenant', metavar='ID',
                       help='sent as X-Tenant-Id, believed only by a daemon in '
                       'trusted_gateway mode (env GLANCE_TENANT)')
    group.add_argument('--user', metavar='ID',
                       help='sent as X-User-Id (env GLANCE_USER)')
    group.add_argument('--roles', metavar='R1,R2',
                       help='sent as X-Roles, e.g. admin (env GLANCE_ROLES)')
    add_tls_options(group)
    group.add_argument('--timeout', metavar='SECONDS', type=float,
                       help='to connect and per socket read (env GLANCE_TIMEOUT; '
                       'default 60)')
    group.add_argument('--json', action='store_true',
                       help='print results as JSON for scripts')
    return options


def _add_listing_options(parser):
    parser.set_defaults(pairs='filters')
    parser.add_argument('filters', nargs='*', type=_pair, metavar='FIELD=VALUE',
                        help='filters: %s; any other key (or property-KEY) filters on '
                        'a property' % ', '.join(commands.FILTER_FIELDS))
    parser.add_argument('--sort-key', choices=commands.SORT_KEYS,
                        help='sort field (default created_at)')
    parser.add_argument('--sort-dir', choices=('asc', 'desc'),
                        help='sort direction (default desc)')
    parser.add_argument('--limit', type=_positive,
                        help='show one page of at most this many images')
    parser.add_argument('--marker', metavar='IMAGE_ID',
                        help='start after this image (the id printed after a page)')
    parser.add_argument('--page-size', type=_positive,
                        help='images per request when listing everything')


def _add_upload_options(parser):
    parser.set_defaults(pairs='metadata')
    parser.add_argument('metadata', nargs='*', type=_pair, metavar='FIELD=VALUE',
                        help='fields: %s (location may repeat, one per chunk); any '
                        'other key, or property-KEY, is a property'
                        % ', '.join(commands.WRITABLE_FIELDS))
    parser.add_argument('--file', metavar='PATH',
                        help="image data from PATH, or '-' for stdin (sent chunked "
                        "when its size is unknown)")


def build_parser():
    """Build the ``glance`` argument parser (every command, flag and help text)."""
    connection = connection_options()
    parser = Parser(prog='glance', description=_DESCRIPTION, epilog=_EPILOG,
                    parents=[connection],
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--version', action='version',
                        version='glance %s' % glance.__version__)
    subparsers = parser.add_subparsers(title='commands', metavar='COMMAND',
                                       dest='command', required=True)

    def command(name, func, help_text, **kwargs):
        sub = subparsers.add_parser(name, parents=[connection], help=help_text,
                                    description=help_text, **kwargs)
        sub.set_defaults(func=func)
        return sub

    _add_listing_options(command('index', commands.do_index,
                                 'list images, one line each (from the registry)'))
    _add_listing_options(command('details', commands.do_details,
                                 'list images with all fields and properties'))
    sub = command('show', commands.do_show, "show one image's full record")
    sub.add_argument('image', metavar='IMAGE', help='image id or image URI')

    sub = command('add', commands.do_add,
                  'create an image through glance-api: with data from --file, from '
                  'existing objects (location=URL), or queued (neither)')
    _add_upload_options(sub)

    sub = command('update', commands.do_update,
                  "change an image's metadata, or upload data into a queued image")
    sub.add_argument('image', metavar='IMAGE_ID')
    _add_upload_options(sub)
    sub.add_argument('--purge-props', action='store_true',
                     help='replace all properties with the ones given instead of '
                     'merging them')

    sub = command('delete', commands.do_delete, 'delete images: their data and records')
    sub.add_argument('images', nargs='+', metavar='IMAGE_ID')

    sub = command('download', commands.do_download,
                  'download an image through glance-api and verify its checksum')
    sub.add_argument('image', metavar='IMAGE', help='image id or image URI')
    sub.add_argument('--file', metavar='PATH',
                     help="write to PATH (through PATH.part, resumed if interrupted); "
                     "default or '-': stdout")
    _add_member_commands(command)
    return parser


def _add_member_commands(command):
    sub = command('member-list', commands.do_member_list,
                  'list the members of an image, or the images shared with a member')
    sub.add_argument('--image-id', metavar='IMAGE_ID', help='members of this image')
    sub.add_argument('--member-id', '--member', metavar='TENANT', dest='member',
                     help='images shared with this member')
    sub = command('member-create', commands.do_member_create,
                  'share an image with a member tenant')
    sub.add_argument('image', metavar='IMAGE_ID')
    sub.add_argument('member', metavar='TENANT')
    sub.add_argument('--can-share', action='store_true',
                     help='the member may share the image further')
    sub = command('member-delete', commands.do_member_delete,
                  'stop sharing an image with a member tenant')
    sub.add_argument('image', metavar='IMAGE_ID')
    sub.add_argument('member', metavar='TENANT')
    sub = command('members-replace', commands.do_members_replace,
                  "replace an image's members with the ones given (none: unshare)")
    sub.add_argument('image', metavar='IMAGE_ID')
    sub.add_argument('members', nargs='*', metavar='TENANT')
    sub.add_argument('--can-share', action='store_true',
                     help='the members may share the image further')


def parse_args(argv, environ, parser=None):
    """Parse the command line; fill connection options from ``environ`` and defaults.

    :param parser: the command's parser (default: ``glance``'s, :func:`build_parser`).
    """
    parser = parser or build_parser()
    # FIELD=VALUE pairs may follow a flag (``update ID --purge-props os=linux``),
    # which argparse leaves over once the positional list has been filled.
    args, extras = parser.parse_known_args(argv)
    pairs = getattr(args, 'pairs', None)
    unknown = [token for token in extras if pairs is None or token.startswith('-')]
    if unknown:
        parser.error('unrecognized arguments: %s' % ' '.join(unknown))
    for token in extras:
        try:
            getattr(args, pairs).append(_pair(token))
        except argparse.ArgumentTypeError as err:
            parser.error(str(err))
    for name, variable, default in _ENV_DEFAULTS:
        if not hasattr(args, name):
            setattr(args, name, environ.get(variable) or default)
    if not hasattr(args, 'insecure'):
        args.insecure = insecure_from(environ)
    args.json = getattr(args, 'json', False)
    try:
        args.timeout = float(args.timeout)
    except ValueError:
        parser.error('GLANCE_TIMEOUT must be a number of seconds, got %r' % args.timeout)
    if args.timeout <= 0:
        parser.error('--timeout must be positive')
    return args


def describe_os_error(err):
    """One line for a local OSError: ``No such file or directory: disk.img``."""
    text = err.strerror or type(err).__name__
    return '%s: %s' % (text, err.filename) if err.filename else text


def main(argv=None, environ=None):
    """Run one ``glance`` command; returns the exit status.

    :param argv: the arguments (default ``sys.argv[1:]``).
    :param environ: the environment for GLANCE_* defaults (default ``os.environ``).
    """
    environ = os.environ if environ is None else environ
    args = parse_args(argv, environ)
    session = commands.Session(args, environ)
    try:
        return args.func(session, args)
    except commands.UsageError as err:
        print('glance: error: %s (see glance %s --help)' % (err, args.command),
              file=sys.stderr)
        return EXIT_USAGE
    except (exception.Unauthorized, exception.Forbidden) as err:
        hint = '; %s' % auth.ANONYMOUS_HINT if session.is_anonymous else ''
        print('glance: error: %s%s' % (err, hint), file=sys.stderr)
        return EXIT_FAILURE
    except exception.GlanceException as err:
        print('glance: error: %s' % err, file=sys.stderr)
        return EXIT_FAILURE
    except BrokenPipeError:
        # The reader went away (e.g. "| head"): say nothing, and keep Python from
        # complaining when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except OSError as err:
        print('glance: error: %s' % describe_os_error(err), file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print('glance: interrupted', file=sys.stderr)
        return EXIT_INTERRUPTED
