#!/usr/bin/env bash
# Make sure the database servers the functional tests use are running on loopback:
# MariaDB at 127.0.0.1:3306 (root, no password) and PostgreSQL at 127.0.0.1:5432 (trust).
# Idempotent: servers already answering are left alone; stopped ones are started;
# missing ones are installed from Debian's packages and configured for local test use.
set -euo pipefail

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() {
    local port=$1
    for _ in $(seq 1 60); do answers "$port" && return 0; sleep 0.5; done
    echo "database on port $port did not come up" >&2
    return 1
}

apt_install() {
    if ! apt-cache show "$1" >/dev/null 2>&1; then apt-get update -qq; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if ! answers 3306; then
    command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || apt_install mariadb-server
    mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
    wait_for 3306
    # Debian's root uses unix_socket auth; the tests log in over TCP with no password.
    mariadb -uroot -e "ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD('') OR unix_socket; FLUSH PRIVILEGES;" 2>/dev/null || true
fi

if ! answers 5432; then
    if ! ls /etc/postgresql 2>/dev/null | grep -q .; then
        apt_install postgresql
        version=$(ls /etc/postgresql | head -1)
        hba=/etc/postgresql/$version/main/pg_hba.conf
        sed -i -E 's/^(host\s+all\s+all\s+127\.0\.0\.1\/32\s+)\S+/\1trust/' "$hba"
        sed -i -E 's/^(local\s+all\s+postgres\s+)\S+/\1trust/' "$hba"
    fi
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
    wait_for 5432
fi
echo "databases ready: mariadb 127.0.0.1:3306, postgresql 127.0.0.1:5432"
