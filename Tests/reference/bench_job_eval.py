"""Base vs fine-tuned benchmark: a short fine-tuning job with `tailor.evaluation` on a real `tailor serve`, through the
official OpenAI SDK, then the eval Tailor runs on the base model and on the `ft:` model over the test file. Prints
each criterion's mean score for both models and the delta, how long the job and each run took, and the decode rate
the runs reached, then one JSON line. Run it with the e2e venv (.venv, it has `openai`):

  .venv/bin/python Tests/reference/bench_job_eval.py --bin .build/release/tailor --model MODEL.gguf --train T.jsonl --test V.jsonl
"""
import argparse, json, time

import openai

from bench_server import tailor_server

KEY = "sk-bench-eval-0123456789abcdef"


def all_items(client, eval_id, run_id):
    items, after = [], None
    while True:
        page = client.evals.runs.output_items.list(run_id, eval_id=eval_id, limit=100, **({"after": after} if after else {}))
        items += page.data
        if not page.has_more:
            return items
        after = page.data[-1].id


def means(items):
    scores = {}
    for item in items:
        if item.status == "error":
            continue
        for r in item.results:
            scores.setdefault(r.name, []).append(r.score)
    return {k: sum(v) / len(v) for k, v in scores.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--train", required=True)
    ap.add_argument("--test", required=True)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--lines", type=int, default=0, help="use only the first N lines of the test file (0: all)")
    a = ap.parse_args()
    with tailor_server(a.bin, a.model, KEY, prefix="tailor-bench-eval-") as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key=KEY)
        base = client.models.list().data[0].id
        lines = [l for l in open(a.test, "rb").read().splitlines(keepends=True) if l.strip()]
        if a.lines:
            lines = lines[: a.lines]
        t0 = time.time()
        train = client.files.create(file=open(a.train, "rb"), purpose="fine-tune")
        test = client.files.create(file=("test.jsonl", b"".join(lines)), purpose="fine-tune")
        job = client.fine_tuning.jobs.create(model=base, training_file=train.id, seed=1,
                                             method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": a.epochs}}},
                                             extra_body={"tailor": {"evaluation": {"file": test.id}}})
        while job.status not in ("succeeded", "failed", "cancelled"):
            time.sleep(2)
            job = client.fine_tuning.jobs.retrieve(job.id)
        if job.status != "succeeded":
            raise SystemExit(f"job {job.status}: {job.error}")
        t_job = time.time()
        e = job.model_extra["tailor"]["evaluation"]
        done = {}
        while len(done) < 2:
            for name, run_id in (("base", e["base_run_id"]), ("fine_tuned", e["fine_tuned_run_id"])):
                if name not in done:
                    run = client.evals.runs.retrieve(run_id, eval_id=e["eval_id"])
                    if run.status in ("completed", "failed", "canceled"):
                        done[name] = (time.time(), run)
            time.sleep(1)
        t_base, base_run = done["base"]
        t_tuned, tuned_run = done["fine_tuned"]
        base_scores = means(all_items(client, e["eval_id"], base_run.id))
        tuned_scores = means(all_items(client, e["eval_id"], tuned_run.id))
        usage = {}
        for run in (base_run, tuned_run):
            for u in run.per_model_usage:
                usage[run.model] = {"prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens}
        result = {
            "test_lines": len(lines), "epochs": a.epochs, "job_seconds": round(t_job - t0, 1),
            "eval_seconds": round(t_tuned - t_job, 1), "base_run_seconds": round(t_base - t_job, 1),
            "fine_tuned_run_seconds": round(t_tuned - t_base, 1),
            "base_status": base_run.status, "fine_tuned_status": tuned_run.status,
            "base": {k: round(v, 4) for k, v in base_scores.items()},
            "fine_tuned": {k: round(v, 4) for k, v in tuned_scores.items()},
            "delta": {k: round(tuned_scores[k] - base_scores[k], 4) for k in base_scores if k in tuned_scores},
            "passed": {"base": base_run.result_counts.passed, "fine_tuned": tuned_run.result_counts.passed},
            "usage": usage,
        }
        for k in base_scores:
            print(f"  {k:12s} base {base_scores[k]:.4f}  fine-tuned {tuned_scores.get(k, float('nan')):.4f}  delta {result['delta'].get(k, float('nan')):+.4f}")
        print(f"  job {result['job_seconds']} s; eval {result['eval_seconds']} s (base {result['base_run_seconds']} s, fine-tuned {result['fine_tuned_run_seconds']} s)")
        print(json.dumps(result))


if __name__ == "__main__":
    main()
