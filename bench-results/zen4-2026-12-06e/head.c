#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
typedef void (*sgemm_t)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*, int);
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }
static float* buf(size_t n) { float* p = aligned_alloc(64, ((n * 4 + 63) / 64) * 64); for (size_t i = 0; i < n; i++) p[i] = (float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f; return p; }
int main(int argc, char** argv) {
    void* h = dlopen(argv[1], RTLD_NOW | RTLD_GLOBAL);
    sgemm_t g = (sgemm_t)dlsym(h, "cblas_sgemm");
    int V = 49152, C = 576, total = atoi(argv[2]);
    float *w = buf((size_t)V * C), *x = buf((size_t)total * C), *y = buf((size_t)total * V), *dx = buf((size_t)total * C);
    int chunks[] = {128, 160, 256, 320, 512};
    for (int rep = 0; rep < 3; rep++)
    for (int ci = 0; ci < 5; ci++) {
        int cap = chunks[ci];
        // even split vs 128-style (fixed cap, remainder last)
        for (int even = 0; even < 2; even++) {
            int n = (total + cap - 1) / cap, per = even ? (total + n - 1) / n : cap;
            double tf = 0, tb = 0;
            for (int it = 0; it < 6; it++) {
                for (int i = 0; i < total; i += per) {
                    int m = total - i < per ? total - i : per;
                    double t0 = now();
                    g(101, 111, 112, m, V, C, 1, x + (size_t)i * C, C, w, C, 0, y, V);
                    double t1 = now();
                    g(101, 111, 111, m, C, V, 1, y, V, w, C, 0, dx + (size_t)i * C, C);
                    double t2 = now();
                    if (it) { tf += t1 - t0; tb += t2 - t1; }
                }
            }
            printf("rows %d cap %3d %s: fwd %6.1f ms bwd %6.1f ms sum %6.1f\n", total, cap, even ? "even " : "fixed", tf / 5 * 1e3, tb / 5 * 1e3, (tf + tb) / 5 * 1e3);
        }
    }
}
