"""A throwaway `tailor serve` for the benchmark scripts: a scratch data directory, a free port, an admin key; the
server is stopped (SIGTERM) when the `with` block ends."""
import contextlib, re, subprocess, tempfile


@contextlib.contextmanager
def tailor_server(binary, model, key, prefix="tailor-bench-"):
    data = tempfile.mkdtemp(prefix=prefix)
    proc = subprocess.Popen([binary, "serve", "--data", data, "--port", "0", "--model", model, "--api-key", key],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        url = None
        while url is None:
            line = proc.stdout.readline()
            if not line:
                raise SystemExit("the server did not start")
            m = re.search(r"(http://127\.0\.0\.1:\d+)", line)
            url = m and m.group(1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=120)
