#!/usr/bin/env bash
# deploy/tailor.service under a real systemd (this machine's, booted as PID 1 of a throwaway container by
# container.sh): installs as deploy/README.md says, then checks that Tailor starts inside the sandbox, serves the API
# and the dashboard, stops cleanly (exit 0) in the middle of a training job, resumes that job at the next start,
# and is restarted by systemd after being killed. Needs root (namespaces and mounts); about a minute.
#   Tests/deploy/service.sh PATH/TO/tailor PATH/TO/SmolLM2-135M-Instruct.Q4_1.gguf
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
bin=${1:?usage: service.sh TAILOR_BIN MODEL}
model=${2:?usage: service.sh TAILOR_BIN MODEL}
python=${PYTHON:-$repo/.venv/bin/python}
[[ $(id -u) == 0 ]] || { echo "service.sh needs root: it makes namespaces and mounts" >&2; exit 1; }

work=$(mktemp -d /tmp/tailor-service.XXXXXX)
box() { "$here/container.sh" exec "$work" "$@"; }
cleanup() { "$here/container.sh" stop "$work" > /dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; box journalctl -u tailor --no-pager -n 30 >&2 || true; exit 1; }
ok() { echo "ok: $*"; }

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port

# What an administrator does (deploy/README.md), into a tree copied over the container's /.
stage=$work/stage
make -s -C "$repo" -o build install BIN="$bin" DESTDIR="$stage" PREFIX=/usr/local > /dev/null
install -d -m 0755 "$stage/etc/tailor"
sed "s|^#TAILOR_PORT=8080$|TAILOR_PORT=$port|" "$repo/deploy/tailor.env.example" > "$stage/etc/tailor/tailor.env"
chmod 0600 "$stage/etc/tailor/tailor.env"
install -D -m 0644 "$model" "$stage/var/lib/tailor/models/SmolLM2-135M-Instruct.Q4_1.gguf"

"$here/container.sh" start "$work" "$stage" > /dev/null || fail "systemd did not boot in the container"
ok "$(box systemctl --version | head -1) booted in a container"
box systemctl daemon-reload
box systemctl enable --now tailor.service 2> /dev/null || fail "systemctl enable --now tailor"
for _ in $(seq 100); do curl -sf "$url/healthz" > /dev/null && break; sleep 0.2; done
curl -sf "$url/healthz" > /dev/null || fail "no /healthz answer on $url"
[[ $(curl -s -o /dev/null -w '%{http_code}' "$url/") == 200 ]] || fail "the dashboard is not served at /"
key=$(box cat /var/lib/tailor/admin.key | tr -d '\n')
[[ $key == sk-* ]] || fail "no admin key in /var/lib/tailor/admin.key"
ok "tailor.service runs as $(box systemctl show tailor -p User --value || echo a dynamic user) in its sandbox; /healthz, / and admin.key are there"

# A job that is still running when the service stops.
job=$("$python" - "$url" "$key" "$repo/Tests/e2e/data/support.jsonl" <<'EOF'
import sys, time
from openai import OpenAI
c = OpenAI(base_url=sys.argv[1] + "/v1", api_key=sys.argv[2])
r = c.chat.completions.create(model="SmolLM2-135M-Instruct", messages=[{"role": "user", "content": "Hi"}], max_tokens=4, stream=True)
assert any(ch.choices and ch.choices[0].delta.content for ch in r), "no streamed tokens"
f = c.files.create(file=open(sys.argv[3], "rb"), purpose="fine-tune")
j = c.fine_tuning.jobs.create(model="SmolLM2-135M-Instruct", training_file=f.id,
                              method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 6, "batch_size": 4}}})
for _ in range(300):
    raw = c.fine_tuning.jobs.with_raw_response.retrieve(j.id).http_response.json()
    if raw["status"] == "running" and raw.get("tailor", {}).get("step", 0) >= 2:
        break
    time.sleep(0.5)
else:
    raise SystemExit(f"the job did not get to step 2: {raw['status']}")
print(j.id)
EOF
) || fail "chat or job creation inside the service"
ok "chat streams and job $job trains inside the service"
box systemctl stop tailor
[[ $(box systemctl show tailor -p ExecMainStatus --value) == 0 ]] || fail "tailor did not exit 0 on SIGTERM"
journal=$(box journalctl -u tailor --no-pager)   # (not piped into grep -q: with pipefail, SIGPIPE would fail it)
grep -q "the job will resume from step" <<< "$journal" || fail "no checkpoint on stop"
ok "systemctl stop during training: exit status 0, the running step checkpointed"

box systemctl start tailor
"$python" - "$url" "$key" "$job" <<'EOF' || fail "the job did not resume and finish"
import sys, time
from openai import OpenAI
c = OpenAI(base_url=sys.argv[1] + "/v1", api_key=sys.argv[2], max_retries=10)
for _ in range(600):
    j = c.fine_tuning.jobs.retrieve(sys.argv[3])
    if j.status in ("succeeded", "failed", "cancelled"):
        break
    time.sleep(0.5)
assert j.status == "succeeded", j.status
assert any("resumed from step" in e.message for e in c.fine_tuning.jobs.list_events(j.id, limit=100))
c.chat.completions.create(model=j.fine_tuned_model, messages=[{"role": "user", "content": "Hi"}], max_tokens=4)
EOF
ok "after the restart the job resumed from its checkpoint, succeeded, and its model answers"

box systemctl kill -s KILL tailor
for _ in $(seq 60); do
    [[ $(box systemctl show tailor -p NRestarts --value) -ge 1 ]] && curl -sf "$url/healthz" > /dev/null && break
    sleep 0.5
done
[[ $(box systemctl show tailor -p NRestarts --value) -ge 1 ]] || fail "systemd did not restart tailor after SIGKILL"
curl -sf "$url/healthz" > /dev/null || fail "tailor did not come back after SIGKILL"
ok "killed with SIGKILL, tailor is restarted by systemd (Restart=on-failure) and serves again"
box systemctl stop tailor
echo "service checks passed"
