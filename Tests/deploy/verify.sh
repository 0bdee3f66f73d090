#!/usr/bin/env bash
# Checks what deploy/ ships, on a scratch `make install`: the systemd unit passes `systemd-analyze verify` and keeps
# its sandbox, the nginx example passes `nginx -t` (with a throwaway certificate), and every setting in the env
# example is one `tailor serve` reads. Does not need root or a running systemd.
#   Tests/deploy/verify.sh PATH/TO/tailor
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:?usage: verify.sh PATH/TO/tailor}
work=$(mktemp -d /tmp/tailor-deploy.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

# 1. make install into a staging root, with PREFIX rewritten into the unit.
stage=$work/stage
make -s -C "$repo" -o build install BIN="$bin" DESTDIR="$stage" PREFIX=/opt/tailor-test > /dev/null
unit=$stage/etc/systemd/system/tailor.service
for f in opt/tailor-test/bin/tailor opt/tailor-test/share/tailor/Public/index.html etc/systemd/system/tailor.service \
         opt/tailor-test/share/tailor/tailor.env.example opt/tailor-test/share/tailor/nginx.conf.example; do
    [[ -e $stage/$f ]] || fail "make install did not put $f"
done
grep -q '^ExecStart=/opt/tailor-test/bin/tailor serve$' "$unit" || fail "ExecStart does not follow PREFIX: $(grep ExecStart "$unit")"
ok "make install DESTDIR PREFIX puts the binary, the dashboard, the unit and the examples in place"

# 2. systemd-analyze verify. It insists that ExecStart exists on this machine, so a copy of the unit points at the
# staged binary; any message about the unit (unknown setting, bad value, missing binary) fails the check.
sed "s|^ExecStart=/opt/tailor-test/bin/tailor|ExecStart=$stage/opt/tailor-test/bin/tailor|" "$unit" > "$work/tailor.service"
out=$(SYSTEMD_LOG_LEVEL=notice systemd-analyze verify "$work/tailor.service" 2>&1) || fail "systemd-analyze verify: $out"
if grep -i "tailor.service" <<< "$out"; then fail "systemd-analyze verify complained about the unit"; fi
ok "systemd-analyze verify passes ($(systemd-analyze --version | head -1))"

# 3. The sandbox the issue asks for stays in the unit.
for line in 'ProtectSystem=strict' 'ProtectHome=yes' 'PrivateTmp=yes' 'NoNewPrivileges=yes' 'CapabilityBoundingSet=' \
            'Restart=on-failure' 'DynamicUser=yes' 'StateDirectory=tailor' 'KillSignal=SIGTERM' \
            'EnvironmentFile=-/etc/tailor/tailor.env' 'MemoryDenyWriteExecute=yes' 'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX'; do
    grep -qx "$line" "$unit" || fail "the unit lost '$line'"
done
ok "the unit keeps its sandbox: strict read-only system, no home, private /tmp, no privileges or capabilities"
timeout_stop=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)s$/\1/p' "$unit")
[[ ${timeout_stop:-0} -ge 60 ]] || fail "TimeoutStopSec must leave a minute for the running step's checkpoint"
ok "TimeoutStopSec=${timeout_stop}s leaves time for a clean stop"

# 2b. The worker node's unit: the same checks, and the same sandbox save the user (a fixed one, for the shared directory).
wunit=$stage/etc/systemd/system/tailor-worker.service
[[ -e $wunit && -e $stage/opt/tailor-test/share/tailor/worker.env.example ]] || fail "make install did not put the worker unit and its env example"
grep -q '^ExecStart=/opt/tailor-test/bin/tailor worker$' "$wunit" || fail "the worker's ExecStart does not follow PREFIX: $(grep ExecStart "$wunit")"
sed "s|^ExecStart=/opt/tailor-test/bin/tailor|ExecStart=$stage/opt/tailor-test/bin/tailor|" "$wunit" > "$work/tailor-worker.service"
out=$(SYSTEMD_LOG_LEVEL=notice systemd-analyze verify "$work/tailor-worker.service" 2>&1) || fail "systemd-analyze verify (worker): $out"
if grep -i "tailor-worker.service" <<< "$out"; then fail "systemd-analyze verify complained about the worker unit"; fi
for line in 'ProtectSystem=strict' 'ProtectHome=yes' 'PrivateTmp=yes' 'NoNewPrivileges=yes' 'CapabilityBoundingSet=' \
            'Restart=on-failure' 'User=tailor' 'KillSignal=SIGTERM' 'ReadWritePaths=/srv/tailor' 'RequiresMountsFor=/srv/tailor' \
            'Environment=TAILOR_DATA=/srv/tailor' 'EnvironmentFile=-/etc/tailor/worker.env' 'MemoryDenyWriteExecute=yes'; do
    grep -qx "$line" "$wunit" || fail "the worker unit lost '$line'"
done
ok "systemd-analyze verify passes on tailor-worker.service, which keeps the sandbox and writes only /srv/tailor"

# 4. The env examples: every line is a comment, blank, or NAME=value with a name tailor reads.
known=$(grep -ohE 'TAILOR_[A-Z_]+' -r "$repo/Sources" | sort -u)
for example in tailor.env.example worker.env.example; do
    n=0
    while IFS= read -r line; do
        [[ -z $line || $line == \#* ]] && continue
        [[ $line =~ ^(TAILOR_[A-Z_]+)=.*$ ]] || fail "$example: not NAME=value: $line"
        grep -qx "${BASH_REMATCH[1]}" <<< "$known" || fail "$example: tailor does not read ${BASH_REMATCH[1]}"
        n=$((n + 1))
    done < "$repo/deploy/$example"
    for name in $(grep -oE '^#?TAILOR_[A-Z_]+=' "$repo/deploy/$example" | tr -d '#='); do
        grep -qx "$name" <<< "$known" || fail "$example documents $name, which tailor does not read"
    done
    ok "$example: $n active and $(grep -cE '^#TAILOR_' "$repo/deploy/$example") commented settings, all read by tailor"
done

# 5. nginx -t on the proxy example, inside a minimal nginx.conf, with a self-signed certificate and scratch paths.
if command -v nginx > /dev/null; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=tailor.example.com \
        -keyout "$work/key.pem" -out "$work/cert.pem" 2> /dev/null
    sed -e "s|/etc/letsencrypt/live/tailor.example.com/fullchain.pem|$work/cert.pem|" \
        -e "s|/etc/letsencrypt/live/tailor.example.com/privkey.pem|$work/key.pem|" \
        "$repo/deploy/nginx.conf" > "$work/site.conf"
    cat > "$work/nginx.conf" <<EOF
pid $work/nginx.pid;
error_log $work/error.log;
events {}
http {
    access_log off;
    client_body_temp_path $work/body;
    proxy_temp_path $work/proxy;
    fastcgi_temp_path $work/fastcgi;
    uwsgi_temp_path $work/uwsgi;
    scgi_temp_path $work/scgi;
    include $work/site.conf;
}
EOF
    out=$(nginx -t -p "$work" -c "$work/nginx.conf" 2>&1) || fail "nginx -t: $out"
    grep -q "test is successful" <<< "$out" || fail "nginx -t: $out"
    grep -q "^    proxy_buffering off;" "$repo/deploy/nginx.conf" || fail "nginx.conf must turn proxy buffering off for SSE"
    ok "nginx -t accepts deploy/nginx.conf ($(nginx -v 2>&1 | cut -d/ -f2)), with proxy buffering off for server-sent events"
else
    fail "nginx is not installed (make test-deps installs it)"
fi
echo "deploy checks passed"
