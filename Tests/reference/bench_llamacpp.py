"""The llama.cpp side of `tailor bench generate`: prefill and decode tokens/s on one sequence with llama-cpp-python
(2 threads), the same GGUF and the same prompt text cut to the same length. Prints one JSON object.

Usage: python bench_llamacpp.py MODEL.gguf [--prompt-tokens 200] [--new-tokens 128] [--runs 3] [--threads 2]
"""
import argparse, json, resource, statistics, time

from llama_cpp import Llama

TEXT = "The history of the city begins with a small harbour where fishermen traded salt and grain. " * 60


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--prompt-tokens", type=int, default=200)
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    llm = Llama(model_path=a.model, n_ctx=1024, n_threads=a.threads, n_threads_batch=a.threads, n_batch=512, verbose=False)
    prompt = llm.tokenize(TEXT.encode(), add_bos=False)[: a.prompt_tokens]
    prefill, decode = [], []
    for run in range(a.runs + 1):   # the first run warms up
        llm.reset()
        t0 = time.perf_counter()
        llm.eval(prompt)
        t1 = time.perf_counter()
        for _ in range(a.new_tokens):
            tok = llm.sample(top_k=1)   # greedy, as Tailor's side; EOS ignored so both decode the same count
            llm.eval([tok])
        t2 = time.perf_counter()
        if run:
            prefill.append(len(prompt) / (t1 - t0))
            decode.append(a.new_tokens / (t2 - t1))
    print(json.dumps({"prefill_tokens_per_s": round(statistics.median(prefill), 1),
                      "decode_tokens_per_s": round(statistics.median(decode), 1),
                      "prompt_tokens": len(prompt), "new_tokens": a.new_tokens, "runs": a.runs, "threads": a.threads,
                      "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}, sort_keys=True))


if __name__ == "__main__":
    main()
