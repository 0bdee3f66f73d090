"""Jobs per hour of a Tailor cluster on small jobs (issue #17): one run of one configuration. Starts, on a new data
directory, either one API node (`tailor serve --workers 0 --database URL`) and N `tailor worker` processes of T
compute threads each, or (without --database) the single box: `tailor serve` on SQLite with its default training
worker and threads. Uploads a small training file through the official `openai` SDK, creates J jobs at once, and
polls the job list until every job has ended. Measures from the first create to the last `succeeded`: jobs/hour, the
median job wall time (first seen `running` -> first seen `succeeded`) and the median queue wait (create answered ->
first seen `running`, validation by a worker included), and the CPU seconds per job of the tailor processes and of
the database's server processes (a figure the neighbours' load does not change much). Verifies that every job succeeded, once: one start and one
completion event and no restart, distinct models, one training attempt in the store's row, and (workers) one training
claim in exactly one worker's log. Stops every process it started and removes its scratch directory, also on
SIGINT/SIGTERM (a run that fails its checks keeps the directory, for the logs). Prints one JSON line.
Run it with the e2e venv (.venv, it has `openai`); scripts/bench-cluster-jobs.sh runs the whole comparison:

  .venv/bin/python Tests/reference/bench_cluster_jobs.py --bin .build/release/tailor --model MODEL.gguf \\
      --train Tests/e2e/data/support.jsonl [--database postgres://tailor@127.0.0.1:PORT/DB --workers 2 --threads 1]
"""
import argparse, json, os, re, signal, sqlite3, statistics, subprocess, sys, tempfile, time
from pathlib import Path

import openai

KEY = "sk-bench-cluster-0123456789abcdef"
FINISHED = {"succeeded", "failed", "cancelled"}


class Process:
    """One tailor process; its log is DATA.NAME.log; ready once its stdout prints a line matching `ready`."""

    def __init__(self, name, args, env, data, ready, started):
        self.name = name
        self.log_path = Path(f"{data}.{name}.log")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=open(self.log_path, "ab"), text=True,
                                     env={**os.environ, **env})
        started.append(self)                     # to be stopped even if it never becomes ready
        deadline = time.time() + 120
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                if self.proc.poll() is not None:
                    raise SystemExit(f"{name} exited with {self.proc.returncode}; log: {self.log_path}")
                continue
            m = re.search(ready, line)
            if m:
                self.url = m.group(1)
                return
        raise SystemExit(f"{name} did not start within 120 s; log: {self.log_path}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def log(self):
        return self.log_path.read_text(errors="replace")


def shutdown(processes):
    """SIGTERM to every process, newest first, and their exit codes; a second Ctrl-C or SIGTERM cannot cut it short."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    return [p.stop() for p in reversed(processes)]


def training_claims(worker):
    """The jobs a worker claimed to train, from its debug log (as Tests/e2e/test_cluster.py reads them)."""
    return re.findall(r"event=claim job=(\S+) state=running\+claimed\S* \[TailorJobs\] job transition", worker.log())


def cpu_seconds(pids):
    """User + system CPU seconds of each live process (all its threads), from /proc/PID/stat."""
    out = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


def database_backends(url):
    """The PostgreSQL server processes serving the connections to this database (the server runs on this machine)."""
    rows = subprocess.run(["psql", url, "-XAtqc", "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"],
                          capture_output=True, text=True, timeout=60)
    return [int(x) for x in rows.stdout.split()]


def loadavg():
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--train", required=True, help="training file (JSONL chat lines)")
    ap.add_argument("--examples", type=int, default=0, help="use only the first N lines of --train (0: all)")
    ap.add_argument("--database", help="PostgreSQL URL of an empty database: API node + workers; without it, the single box")
    ap.add_argument("--workers", type=int, default=1, help="tailor worker processes (with --database)")
    ap.add_argument("--threads", type=int, default=0, help="compute threads per worker (0: the default, all cores)")
    ap.add_argument("--jobs", type=int, default=12)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--poll", type=float, default=0.25, help="seconds between reads of the job list")
    ap.add_argument("--label", default="")
    a = ap.parse_args()
    # SIGTERM ends the run like Ctrl-C does: through the `except` below that stops the processes.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    data = Path(tempfile.mkdtemp(prefix="tailor-bench-cluster-")) / "data"
    db_args = ["--database", a.database] if a.database else []
    threads = {"TAILOR_THREADS": str(a.threads)} if a.threads else {}
    processes, workers = [], []
    load_before = loadavg()
    try:
        api_args = [a.bin, "serve", "--data", str(data), "--model", a.model, "--port", "0", "--api-key", KEY, "--log-level", "info"]
        if a.database:
            api_args += ["--workers", "0", "--node-id", "api", *db_args]
        # The single box trains in its own process: its threads are the training's.
        api = Process("api" if a.database else "serve", api_args, {} if a.database else threads, data,
                      r"listening on (http://127\.0\.0\.1:\d+)", processes)
        if a.database:
            for i in range(1, a.workers + 1):
                w = Process(f"worker-{i}", [a.bin, "worker", "--data", str(data), "--model", a.model, "--port", "0",
                                            "--node-id", f"worker-{i}", "--log-level", "debug", *db_args],
                            threads, data, r"health and metrics on (http://127\.0\.0\.1:\d+)/healthz", processes)
                workers.append(w)

        c = openai.OpenAI(base_url=api.url + "/v1", api_key=KEY, max_retries=0, timeout=120)
        model_name = c.models.list().data[0].id
        lines = Path(a.train).read_bytes().splitlines(keepends=True)
        lines = lines[: a.examples] if a.examples else lines
        f = c.files.create(file=("bench.jsonl", b"".join(lines)), purpose="fine-tune")
        hyper = {"n_epochs": a.epochs, "batch_size": a.batch_size}

        # CPU the jobs cost, whoever spent it: the tailor processes and (cluster) the database's server processes.
        def pids():
            return [p.proc.pid for p in processes] + (database_backends(a.database) if a.database else [])
        cpu_before = cpu_seconds(pids())
        started = time.monotonic()
        created = {}
        for i in range(a.jobs):
            j = c.fine_tuning.jobs.create(model=model_name, training_file=f.id, suffix=f"bench{i}", seed=i,
                                          method={"type": "supervised", "supervised": {"hyperparameters": hyper}})
            created[j.id] = time.monotonic()
        created_in = time.monotonic() - started
        seen = {j: {} for j in created}            # job -> status -> first time seen
        final = {}
        deadline = time.monotonic() + 3600
        while len(final) < len(created):
            assert time.monotonic() < deadline, "the jobs did not finish within an hour"
            now = time.monotonic()
            for j in c.fine_tuning.jobs.list(limit=100).data:
                if j.id in seen and j.id not in final:
                    seen[j.id].setdefault(j.status, now)
                    if j.status in FINISHED:
                        final[j.id] = j
            time.sleep(a.poll)
        cpu_after = cpu_seconds(pids())
        cpu = {pid: t - cpu_before.get(pid, 0) for pid, t in cpu_after.items()}
        tailor_pids = {p.proc.pid for p in processes}
        elapsed = max(seen[j]["succeeded"] for j in final if "succeeded" in seen[j]) - started \
            if any(j.status == "succeeded" for j in final.values()) else None

        # Every job succeeded, once.
        problems = [f"{j.id}: {j.status} {j.error}" for j in final.values() if j.status != "succeeded"]
        for jid in created:
            messages = [e.message for e in c.fine_tuning.jobs.list_events(jid, limit=100)]
            if messages.count("Fine-tuning job started") != 1 or messages.count("The job has successfully completed") != 1 \
                    or any(m.startswith(("Fine-tuning job restarted", "Fine-tuning job resumed")) for m in messages):
                problems.append(f"{jid}: events {messages}")
            if "running" not in seen[jid]:
                problems.append(f"{jid}: never seen running (polls too slow for the job?)")
        if len({j.fine_tuned_model for j in final.values()}) != len(created):
            problems.append("fine-tuned models are not distinct")
        if a.database:
            rows = subprocess.run(["psql", a.database, "-XAtqc", "SELECT id, attempts FROM jobs"], capture_output=True, text=True, timeout=60)
            attempts = dict(line.split("|") for line in rows.stdout.splitlines())
        else:
            with sqlite3.connect(f"file:{data}/tailor.sqlite?mode=ro", uri=True) as db:
                attempts = {jid: str(n) for jid, n in db.execute("SELECT id, attempts FROM jobs")}
        problems += [f"{jid}: {attempts.get(jid)} training attempts" for jid in created if attempts.get(jid) != "1"]
        claims = {w.name: [jid for jid in training_claims(w) if jid in created] for w in workers}
        if workers:
            every = [jid for js in claims.values() for jid in js]
            if sorted(every) != sorted(created):
                problems.append(f"training claims in the workers' logs: {claims}")
        # What the jobs left in the (on real hosts shared) data directory: uploads, checkpoints, adapters.
        data_bytes = sum(p.stat().st_size for p in data.rglob("*") if p.is_file())
        codes = shutdown(processes)
    except BaseException:
        # Interrupted (or broken): nothing to read, so nothing stays behind.
        shutdown(processes)
        subprocess.run(["rm", "-rf", str(data.parent)])
        raise
    load_after = loadavg()
    if any(codes):
        problems.append(f"exit codes on SIGTERM: {dict(zip([p.name for p in reversed(processes)], codes))}")

    wall = [seen[j]["succeeded"] - seen[j]["running"] for j in created if {"running", "succeeded"} <= seen[j].keys()]
    wait = [seen[j]["running"] - created[j] for j in created if "running" in seen[j]]
    steps = [(j.model_extra or {}).get("tailor", {}).get("total_steps") for j in final.values()]
    print(json.dumps({
        "label": a.label, "mode": "cluster" if a.database else "single box", "workers": a.workers if a.database else 1,
        "threads": a.threads or os.cpu_count(), "jobs": a.jobs, "examples": len(lines), "epochs": a.epochs,
        "batch_size": a.batch_size, "steps_per_job": sorted(set(steps)), "succeeded": sum(j.status == "succeeded" for j in final.values()),
        "seconds": round(elapsed, 1) if elapsed else None, "jobs_per_hour": round(a.jobs * 3600 / elapsed, 1) if elapsed else None,
        "median_job_seconds": round(statistics.median(wall), 2) if wall else None,
        "median_queue_wait_seconds": round(statistics.median(wait), 2) if wait else None,
        "max_queue_wait_seconds": round(max(wait), 2) if wait else None, "create_seconds": round(created_in, 2),
        "cpu_seconds_per_job": round(sum(t for pid, t in cpu.items() if pid in tailor_pids) / a.jobs, 2),
        "database_cpu_seconds_per_job": round(sum(t for pid, t in cpu.items() if pid not in tailor_pids) / a.jobs, 3) if a.database else None,
        "data_mib_per_job": round(data_bytes / a.jobs / 2**20, 2),
        "jobs_per_worker": {n: len(js) for n, js in claims.items()}, "load_before": load_before, "load_after": load_after,
        "ok": not problems, "problems": problems[:10]}), flush=True)
    # The scratch directory goes only when the run was clean: a failed run's logs stay for reading.
    if not problems:
        subprocess.run(["rm", "-rf", str(data.parent)])
    else:
        print(f"logs: {data}.*.log", file=sys.stderr)
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
