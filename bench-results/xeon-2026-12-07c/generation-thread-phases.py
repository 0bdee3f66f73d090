# The generation thread's samples of a `perf record -g` of `tailor bench serve --concurrent-only`, split into prefill
# and decode steps, each leaf marked 'par' (under tk_parallel_for: the pool's threads work together) or 'ser' (the
# generation thread alone). Usage: perf script -i perf.data -F tid,ip,sym > s.txt; python3 generation-thread-phases.py s.txt
import collections, sys
samples, cur = [], None
for line in open(sys.argv[1]):
    if not line.strip():
        if cur: samples.append(cur); cur = None
        continue
    if not line[0].isspace():
        if cur: samples.append(cur)
        cur = [line.split()[0], []]
    else:
        parts = line.split(None, 1)
        if cur and len(parts) > 1: cur[1].append(parts[1].strip())
if cur: samples.append(cur)
by_tid = collections.Counter(s[0] for s in samples)
gen = max(by_tid, key=lambda t: sum(1 for s in samples if s[0] == t and any('InferenceServiceC4loop' in f for f in s[1])))
st = [s for s in samples if s[0] == gen]
phases = {'prefill': [s for s in st if any('prefillStep' in f for f in s[1])],
          'decode': [s for s in st if any('decodeStep' in f for f in s[1])]}
print('generation thread samples', len(st), {k: len(v) for k, v in phases.items()})
for name, grp in phases.items():
    c = collections.Counter()
    for s in grp:
        c[('par' if any(f.startswith('tk_parallel_for') for f in s[1]) else 'ser', s[1][0][:70])] += 1
    print('==', name, 'serial share %.3f' % (sum(v for k, v in c.items() if k[0] == 'ser') / len(grp)))
    for k, v in c.most_common(14): print(f"{v / len(grp) * 100:5.1f}% {k}")
