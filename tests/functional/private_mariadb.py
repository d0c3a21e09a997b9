"""A private MariaDB server for tests that must stop or restart their database.

Like :mod:`tests.functional.private_postgres`, the machine's shared server is never
touched: this one is a fresh data directory (``mariadb-install-db``) in its own
temporary folder, served by its own ``mariadbd`` on a free loopback port, stopped by
its PID. It runs as the ``mysql`` user (mariadbd refuses root) and without grant
tables (any user, no password), which is acceptable only because it listens on
127.0.0.1 alone and lives for one test.
"""

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time

from tests.functional.private_postgres import PrivateServer
from tests.functional.services import free_ports


class PrivateMariaDB(PrivateServer):
    """One private MariaDB server; :meth:`start`, :meth:`restart`, :meth:`destroy`.

    :raises FileNotFoundError: when mariadbd or mariadb-install-db is not installed.
    """

    def __init__(self):
        self.mariadbd = shutil.which('mariadbd') or '/usr/sbin/mariadbd'
        install = shutil.which('mariadb-install-db')
        if not install or not os.access(self.mariadbd, os.X_OK):
            raise FileNotFoundError('mariadbd and mariadb-install-db are needed')
        self.folder = tempfile.mkdtemp(prefix='glance-private-mariadb-')
        self.datadir = os.path.join(self.folder, 'data')
        (self.port,) = free_ports(1)
        user = pwd.getpwnam('mysql')
        os.chown(self.folder, user.pw_uid, user.pw_gid)
        self.process = None
        subprocess.run([install, '--no-defaults', '--datadir=' + self.datadir,
                        '--user=mysql', '--skip-test-db',
                        '--auth-root-authentication-method=normal'],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       timeout=120)

    @property
    def url(self):
        """SQLAlchemy URL of the server (no database selected)."""
        return 'mysql+pymysql://root@127.0.0.1:%d/?charset=utf8mb4' % self.port

    def create_database(self, name):
        """Create database ``name``; return its SQLAlchemy URL."""
        import pymysql
        connection = pymysql.connect(host='127.0.0.1', port=self.port, user='root',
                                     connect_timeout=5, autocommit=True)
        try:
            with connection.cursor() as cursor:
                cursor.execute('CREATE DATABASE %s CHARACTER SET utf8mb4' % name)
        finally:
            connection.close()
        return 'mysql+pymysql://root@127.0.0.1:%d/%s?charset=utf8mb4' % (self.port, name)

    def start(self, timeout=60):
        """Start mariadbd and wait until it accepts connections."""
        import pymysql
        with open(os.path.join(self.folder, 'stderr.log'), 'ab') as stderr:
            self.process = subprocess.Popen(
                [self.mariadbd, '--no-defaults', '--datadir=' + self.datadir,
                 '--port=%d' % self.port, '--bind-address=127.0.0.1',
                 '--socket=' + os.path.join(self.folder, 'mysqld.sock'),
                 '--pid-file=' + os.path.join(self.folder, 'mysqld.pid'),
                 '--user=mysql', '--skip-grant-tables', '--skip-name-resolve',
                 '--innodb-flush-log-at-trx-commit=2',
                 '--log-error=' + os.path.join(self.folder, 'error.log')],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                pymysql.connect(host='127.0.0.1', port=self.port, user='root',
                                connect_timeout=2).close()
                return
            except pymysql.err.OperationalError:
                time.sleep(0.1)
        raise RuntimeError('private mariadbd did not start')

    def stop(self):
        """Stop the server (SIGTERM by PID: open connections are cut) and reap it."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
