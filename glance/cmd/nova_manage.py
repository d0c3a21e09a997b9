"""glance-nova-manage: Nova-side helpers for the related-images feature.

``glance-nova-manage generate-installation-uuid --flagfile FILE [--force]`` writes
``--nova_installation_uuid=<new uuid>`` into Nova's gflags-style flag file and prints
the UUID. An existing UUID is kept unless ``--force`` is given, because changing it
detaches the images already related to this installation's instances.
"""

import argparse
import sys

from glance.nova import installation

PROG = 'glance-nova-manage'


def _generate(args):
    print(installation.generate_installation_uuid(args.flagfile, force=args.force))


def build_parser():
    """Return the command-line parser (one sub-command per action)."""
    parser = argparse.ArgumentParser(prog=PROG, description='Nova-side helpers for '
                                     'Glance related images.')
    commands = parser.add_subparsers(dest='command', required=True, metavar='COMMAND')
    generate = commands.add_parser(
        'generate-installation-uuid',
        help='store a new --nova_installation_uuid in a Nova flag file',
        description='Generate a UUID for this Nova installation and write it into the '
        'flag file as --nova_installation_uuid=<uuid> (other lines are kept).')
    generate.add_argument('--flagfile', required=True, metavar='FILE',
                          help="Nova's flag file (created if missing)")
    generate.add_argument('--force', action='store_true',
                          help='replace an existing installation UUID')
    generate.set_defaults(handler=_generate)
    return parser


def main(argv=None):
    """Run one command; returns the exit code (0 ok, 1 failed, 2 usage error).

    :param argv: the arguments after the program name (default: ``sys.argv[1:]``).
    """
    args = build_parser().parse_args(argv)
    try:
        args.handler(args)
    except installation.InstallationUUIDError as err:
        print('%s: %s' % (PROG, err), file=sys.stderr)
        return 1
    return 0
