"""Job benchmark: the time from upload to a usable `ft:` model on a real `tailor serve`, through the official OpenAI
SDK, with the validation loss before (the base model, step 0) and after, and a few answers before and after.
Prints the answers and one JSON line. Run it with the e2e venv (.venv, it has `openai`):

  .venv/bin/python Tests/reference/bench_job.py --bin .build/release/tailor --model MODEL.gguf --train T.jsonl --validation V.jsonl
"""
import argparse, json, time

import openai

from bench_server import tailor_server

KEY = "sk-bench-job-0123456789abcdef"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--train", required=True)
    ap.add_argument("--validation", required=True)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--questions", type=int, default=3)
    a = ap.parse_args()
    with tailor_server(a.bin, a.model, KEY, prefix="tailor-bench-job-") as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key=KEY)
        base = client.models.list().data[0].id
        valid = [json.loads(l)["messages"] for l in open(a.validation) if l.strip()][: a.questions]

        def answers(model):
            out = []
            for messages in valid:
                prompt = [m for m in messages if m["role"] != "assistant"]
                r = client.chat.completions.create(model=model, messages=prompt, max_completion_tokens=80, temperature=0)
                out.append(r.choices[0].message.content)
            return out

        before = answers(base)
        t0 = time.time()
        train = client.files.create(file=open(a.train, "rb"), purpose="fine-tune")
        validation = client.files.create(file=open(a.validation, "rb"), purpose="fine-tune")
        job = client.fine_tuning.jobs.create(model=base, training_file=train.id, validation_file=validation.id, seed=1,
                                             method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": a.epochs}}})
        # Polled twice a second (a read of one row), so the end is seen within 0.5 s; progress printed every ~5 s.
        last, printed = None, 0.0
        while job.status not in ("succeeded", "failed", "cancelled"):
            time.sleep(0.5)
            job = client.fine_tuning.jobs.retrieve(job.id)
            progress = (job.model_extra or {}).get("tailor", {})
            now = time.time() - t0
            if progress.get("step") != last and now - printed >= 5:
                last, printed = progress.get("step"), now
                print(f"  {now:6.1f} s  {job.status} step {last}/{progress.get('total_steps')}", flush=True)
        seconds = time.time() - t0
        assert job.status == "succeeded", job.error
        # The SDK's iterator follows `has_more` across pages (the server caps a page at 100 events).
        metrics = [e.data for e in client.fine_tuning.jobs.list_events(job.id, limit=100)
                   if e.type == "metrics" and e.data and e.data.get("full_valid_loss") is not None]
        metrics.sort(key=lambda d: d["step"])
        after = answers(job.fine_tuned_model)
        for m, b, f in zip(valid, before, after):
            print("\nQ:", [x for x in m if x["role"] == "user"][-1]["content"])
            print("  expected:", m[-1]["content"][:200])
            print("  base:    ", b[:200].replace("\n", " "))
            print("  tuned:   ", f[:200].replace("\n", " "))
        print(json.dumps({"seconds_upload_to_model": round(seconds, 1), "job_seconds": job.finished_at - job.created_at,
                          "epochs": a.epochs, "trained_tokens": job.trained_tokens,
                          "hyperparameters": job.method.supervised.hyperparameters.model_dump() if job.method else None,
                          "valid_loss_before": metrics[0]["full_valid_loss"] if metrics else None,
                          "valid_loss_after": metrics[-1]["full_valid_loss"] if metrics else None,
                          "fine_tuned_model": job.fine_tuned_model}, sort_keys=True))


if __name__ == "__main__":
    main()
