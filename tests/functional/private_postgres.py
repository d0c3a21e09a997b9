"""A private PostgreSQL server for tests that must stop or restart their database.

The machine's shared servers are never touched: this one is a fresh cluster
(``initdb``) in its own temporary folder, listening on a free loopback port, started
and stopped with ``pg_ctl`` on its own data directory. PostgreSQL refuses to run as
root, so under root every command runs as the ``postgres`` user.
"""

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile


def _free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class PrivateServer:
    """What every private database server does with its ``start``, ``stop`` and
    ``folder``: restart, and destroy."""

    def restart(self):
        """Stop, then start again on the same port and data."""
        self.stop()
        self.start()

    def destroy(self):
        """Stop the server and delete its folder."""
        try:
            self.stop()
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


class PrivatePostgres(PrivateServer):
    """One private PostgreSQL cluster; :meth:`start`, :meth:`restart`, :meth:`destroy`.

    :raises FileNotFoundError: when no PostgreSQL server binaries are installed.
    """

    def __init__(self):
        found = sorted(glob.glob('/usr/lib/postgresql/*/bin/pg_ctl'))
        if not found:
            raise FileNotFoundError('no /usr/lib/postgresql/*/bin/pg_ctl')
        self.bin = os.path.dirname(found[-1])
        # Not under pytest's tmp_path: its parents are private to root, and the
        # server runs as postgres.
        self.folder = tempfile.mkdtemp(prefix='glance-private-pg-')
        self.datadir = os.path.join(self.folder, 'data')
        self.port = _free_port()
        self.as_user = []
        if os.geteuid() == 0:
            user = pwd.getpwnam('postgres')
            os.chown(self.folder, user.pw_uid, user.pw_gid)
            self.as_user = ['runuser', '-u', 'postgres', '--']
        self._run('initdb', '-D', self.datadir, '-A', 'trust', '-U', 'postgres',
                  '--no-sync', '-E', 'UTF8')

    @property
    def url(self):
        """SQLAlchemy URL of the ``postgres`` database of this server."""
        return 'postgresql+psycopg://postgres@127.0.0.1:%d/postgres' % self.port

    def _run(self, tool, *args):
        subprocess.run(self.as_user + [os.path.join(self.bin, tool)] + list(args),
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       timeout=120)

    def start(self):
        """Start the server and wait until it accepts connections."""
        options = ('-p %d -c listen_addresses=127.0.0.1 -k %s -c fsync=off'
                   % (self.port, self.folder))
        self._run('pg_ctl', '-D', self.datadir, '-o', options, '-w', '-l',
                  os.path.join(self.folder, 'server.log'), 'start')

    def stop(self):
        """Stop the server (fast shutdown: open connections are cut)."""
        if os.path.exists(os.path.join(self.datadir, 'postmaster.pid')):
            self._run('pg_ctl', '-D', self.datadir, '-m', 'fast', '-w', 'stop')

