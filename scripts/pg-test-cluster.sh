#!/bin/bash
# A throwaway PostgreSQL cluster for the store tests: `start DIR` installs Debian's postgresql if it is missing,
# creates a cluster in DIR owned by an unprivileged user (postgres when run as root), starts it on 127.0.0.1 on a
# free port with password authentication, and prints `export` lines for TAILOR_TEST_DATABASE_URL and PGPASSFILE
# (the password lives only in DIR/pgpass). `restart DIR` restarts its server (fast shutdown: open connections are
# cut), on the same port; `halt DIR` stops the server and `resume DIR` starts it again as it was. `stop DIR` stops
# it and removes DIR. Not for real data: fsync is off.
set -euo pipefail

usage() { echo "usage: $0 start DIR | restart DIR | halt DIR | resume DIR | stop DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
command=$1
dir=$(realpath -m "$2")

# Run as the cluster's owner: PostgreSQL refuses to run as root.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_bin() {
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

case $command in
start)
    if [ -z "$(pg_bin)" ] || [ ! -x "$(pg_bin)/initdb" ]; then
        [ "$(id -u)" -eq 0 ] || { echo "PostgreSQL is not installed; run: sudo apt-get install -y postgresql" >&2; exit 1; }
        echo "installing Debian's postgresql" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2 \
            || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2; }
    fi
    bin=$(pg_bin)
    mkdir -p "$dir"
    password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
    printf '%s\n' "$password" > "$dir/password"
    [ "$(id -u)" -eq 0 ] && chown -R postgres: "$dir"
    chmod 700 "$dir"
    as_owner "$bin/initdb" -D "$dir/data" -U tailor --pwfile="$dir/password" --auth=scram-sha-256 \
        --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    # The server's options, for `resume` to start it again as it was.
    printf '%s\n' "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=200" > "$dir/options"
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -o "$(cat "$dir/options")" start >&2 \
        || { cat "$dir/server.log" >&2; exit 1; }
    # The test process reads the password the way libpq would: from PGPASSFILE, mode 0600, owned by its user.
    pgpass=$dir.pgpass
    printf '127.0.0.1:%s:*:tailor:%s\n' "$port" "$password" > "$pgpass"
    chmod 600 "$pgpass"
    rm -f "$dir/password"
    echo "export TAILOR_TEST_DATABASE_URL=postgres://tailor@127.0.0.1:$port/postgres"
    echo "export PGPASSFILE=$pgpass"
    ;;
restart)
    # pg_ctl restart starts the server again with the options it was started with (DIR/data/postmaster.opts).
    as_owner "$(pg_bin)/pg_ctl" -D "$dir/data" -l "$dir/server.log" -m fast -w -t 60 restart >&2 \
        || { tail -n 20 "$dir/server.log" >&2; exit 1; }
    ;;
halt)
    # The server goes away (fast shutdown: open connections are cut) and stays away until `resume`.
    as_owner "$(pg_bin)/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >&2 || { tail -n 20 "$dir/server.log" >&2; exit 1; }
    ;;
resume)
    as_owner "$(pg_bin)/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -o "$(cat "$dir/options")" start >&2 \
        || { tail -n 20 "$dir/server.log" >&2; exit 1; }
    ;;
stop)
    bin=$(pg_bin)
    if [ -n "$bin" ] && [ -f "$dir/data/postmaster.pid" ]; then
        as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >&2 || true
    fi
    rm -rf "$dir" "$dir.pgpass"
    ;;
*)
    usage
    ;;
esac
