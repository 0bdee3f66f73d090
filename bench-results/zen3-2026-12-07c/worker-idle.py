import bisect,collections,sys
rows=[l.split() for l in open(sys.argv[1])]
rows=[(r[0],float(r[1]),r[2] if len(r)>2 else '?') for r in rows]
main,worker=sys.argv[2],sys.argv[3]
idle={'__vdso_clock_gettime','worker_main','clock_gettime@@GLIBC_2.17','tk_parallel_for'}
m=sorted((t,s) for tid,t,s in rows if tid==main); mt=[x[0] for x in m]
w=[(t,s) for tid,t,s in rows if tid==worker]
c=collections.Counter(); n=0
for t,s in w:
    if s not in idle: continue
    n+=1
    i=bisect.bisect_left(mt,t)
    best=min([k for k in (i-1,i) if 0<=k<len(m)], key=lambda k: abs(mt[k]-t))
    if abs(mt[best]-t)<0.0003: c[m[best][1]]+=1
    else: c['(no main sample near)']+=1
print("worker idle samples", n, "of", len(w))
for s,k in c.most_common(20): print(k, s[:110])
