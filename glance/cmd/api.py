"""glance-api: serve Teller, the streaming image proxy."""

from glance.cmd import daemon

DEFAULT_PORT = 9292


def main(argv=None):
    """Run glance-api until SIGTERM; returns the exit code."""
    return daemon.run('glance-api', DEFAULT_PORT, argv)
