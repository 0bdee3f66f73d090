"""How `tailor serve` sets up its compute at start: it re-executes itself once so that OpenBLAS, which reads its
environment when the library loads, has its threads sleep ~20 µs after a product (OPENBLAS_THREAD_TIMEOUT=16)
instead of spinning ~0.1 s against Tailor's own threads; a value the user set is kept, TAILOR_NO_REEXEC=1 skips the
re-exec. OpenBLAS itself runs single-threaded, its products split into blocks on Tailor's kernel pool (one block per
thread). Read from the running process's environment and its start-up log line."""
import re
from pathlib import Path

from conftest import Server


def environment(pid):
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(entry.decode().split("=", 1) for entry in raw if b"=" in entry)


def compute_line(server):
    return next(line for line in server.log_path.read_text().splitlines() if "compute:" in line)


def started(tmp_path, name, env):
    s = Server(tmp_path / name)
    for var in ("OPENBLAS_THREAD_TIMEOUT", "TAILOR_NO_REEXEC"):
        s.env.pop(var, None)
    s.env.update(env)
    s.start()
    try:
        return environment(s.proc.pid), compute_line(s)
    finally:
        assert s.stop() == 0


def test_openblas_threads_sleep_between_products_unless_the_user_says_otherwise(tmp_path):
    env, line = started(tmp_path, "default", {})
    assert env["OPENBLAS_THREAD_TIMEOUT"] == "16" and env["TAILOR_NO_REEXEC"] == "1", env
    assert "(thread timeout 16)" in line, line
    threads = re.search(r"compute: (\d+) threads", line).group(1)
    assert f"single-threaded: products in {threads} blocks on the kernel pool" in line, line

    env, line = started(tmp_path, "kept", {"OPENBLAS_THREAD_TIMEOUT": "12"})
    assert env["OPENBLAS_THREAD_TIMEOUT"] == "12" and "(thread timeout 12)" in line, line

    env, line = started(tmp_path, "off", {"TAILOR_NO_REEXEC": "1"})
    assert "OPENBLAS_THREAD_TIMEOUT" not in env and "(thread timeout default)" in line, line
