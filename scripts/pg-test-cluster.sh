#!/bin/bash
# A throwaway PostgreSQL cluster for the store tests: `start DIR` installs Debian's postgresql if it is missing,
# creates a cluster in DIR owned by an unprivileged user (postgres when run as root), starts it on 127.0.0.1 on a
# free port with password authentication and TLS, and prints `export` lines for TAILOR_TEST_DATABASE_URL, PGPASSFILE
# (the password lives only there) and TAILOR_TEST_DATABASE_TLS: a directory DIR.tls of the client's side — ca.pem
# (the test CA, which signed the server's certificate for the name localhost), other-ca.pem (a CA that signed
# nothing here), and client.pem / client.key (a certificate for the role tailor_cert, which may log in over TLS
# with that certificate only). `restart DIR` restarts its server (fast shutdown: open connections are
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
    # TLS: a test CA signs the server's certificate and a client certificate; ssl is on in postgresql.conf (not on
    # the command line) so that a test may turn it off with ALTER SYSTEM and a reload, and on again.
    tls=$dir.tls
    mkdir -p "$tls"
    ( cd "$tls"
      openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj "/CN=Tailor test CA"
      openssl req -x509 -newkey rsa:2048 -nodes -keyout other-ca.key -out other-ca.pem -days 2 -subj "/CN=Another CA"
      openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=localhost"
      printf 'subjectAltName=DNS:localhost\n' > server.ext
      openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile server.ext
      openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj "/CN=tailor_cert"
      openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 2
    ) >"$dir/openssl.log" 2>&1 || { cat "$dir/openssl.log" >&2; exit 1; }
    install -m 600 "$tls/server.key" "$dir/data/server.key"
    install -m 644 "$tls/server.pem" "$dir/data/server.crt"
    install -m 644 "$tls/ca.pem" "$dir/data/root.crt"
    rm -f "$tls/server.key" "$tls/ca.key" "$tls/other-ca.key"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$dir/data/server.key" "$dir/data/server.crt" "$dir/data/root.crt"
    printf "ssl = on\nssl_ca_file = 'root.crt'\n" >> "$dir/data/postgresql.conf"
    # The certificate role first: pg_hba.conf takes the first line that matches.
    { echo "hostssl all tailor_cert 127.0.0.1/32 cert"; cat "$dir/data/pg_hba.conf"; } > "$dir/pg_hba.new"
    mv "$dir/pg_hba.new" "$dir/data/pg_hba.conf"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$dir/data/pg_hba.conf"
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    # The server's options, for `resume` to start it again as it was.
    printf '%s\n' "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=200" > "$dir/options"
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -o "$(cat "$dir/options")" start >&2 \
        || { cat "$dir/server.log" >&2; exit 1; }
    # The test process reads the password the way libpq would: from PGPASSFILE, mode 0600, owned by its user.
    pgpass=$dir.pgpass
    # Any host name: TLS tests connect by a name (checked against the certificate) with hostaddr=127.0.0.1.
    printf '*:%s:*:tailor:%s\n' "$port" "$password" > "$pgpass"
    chmod 600 "$pgpass"
    PGPASSFILE=$pgpass psql -X -q "host=127.0.0.1 port=$port user=tailor dbname=postgres sslmode=disable" \
        -c "CREATE ROLE tailor_cert LOGIN" >&2 || exit 1
    rm -f "$dir/password"
    echo "export TAILOR_TEST_DATABASE_URL=postgres://tailor@127.0.0.1:$port/postgres"
    echo "export PGPASSFILE=$pgpass"
    echo "export TAILOR_TEST_DATABASE_TLS=$tls"
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
    rm -rf "$dir" "$dir.pgpass" "$dir.tls"
    ;;
*)
    usage
    ;;
esac
