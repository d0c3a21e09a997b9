"""glance-registry: serve the Parallax image registry."""

from glance.cmd import daemon

DEFAULT_PORT = 9191


def main(argv=None):
    """Run glance-registry until SIGTERM; returns the exit code."""
    return daemon.run('glance-registry', DEFAULT_PORT, argv)
