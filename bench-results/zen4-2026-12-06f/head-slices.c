#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <math.h>
#include <cblas.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }
static float* buf(size_t n) { float* p = aligned_alloc(64, ((n * 4 + 63) / 64) * 64); for (size_t i = 0; i < n; i++) p[i] = ((float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f) * 0.1f; return p; }
int main(int argc, char** argv) {
    int V = atoi(argv[1]), C = atoi(argv[2]), total = atoi(argv[3]), rowcap = atoi(argv[4]);
    float *w = buf((size_t)V * C), *x = buf((size_t)total * C), *dx = buf((size_t)total * C);
    float *y = buf((size_t)rowcap * V);
    int vcs[] = {2048, 4096, 8192, 16384};
    float *yc = buf((size_t)total * 16384), *m = buf(total), *s = buf(total);
    for (int rep = 0; rep < 3; rep++) {
        // rows chunked (current)
        double t0 = now();
        for (int it = 0; it < 3; it++)
        for (int i = 0; i < total; i += rowcap) {
            int mm = total - i < rowcap ? total - i : rowcap;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, mm, V, C, 1, x + (size_t)i * C, C, w, C, 0, y, V);
            if (getenv("EXP")) for (int r = 0; r < mm; r++) { float mx = -1e30f; float* row = y + (size_t)r * V; for (int v = 0; v < V; v++) mx = row[v] > mx ? row[v] : mx; float sum = 0; for (int v = 0; v < V; v++) { row[v] = expf(row[v] - mx); sum += row[v]; } float inv = 1 / sum; for (int v = 0; v < V; v++) row[v] *= inv; }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, mm, C, V, 1, y, V, w, C, 0, dx + (size_t)i * C, C);
        }
        printf("V %d rows %d rowcap %d: %.1f ms\n", V, total, rowcap, (now() - t0) / 3 * 1e3);
        for (int vi = 0; vi < 4; vi++) {
            int vc = vcs[vi];
            t0 = now();
            for (int it = 0; it < 3; it++) {
                for (int r = 0; r < total; r++) { m[r] = -1e30f; s[r] = 0; }
                for (int v0 = 0; v0 < V; v0 += vc) {
                    int n = V - v0 < vc ? V - v0 : vc;
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, total, n, C, 1, x, C, w + (size_t)v0 * C, C, 0, yc, n);
                    if (getenv("EXP")) for (int r = 0; r < total; r++) {
                        float* row = yc + (size_t)r * n; float mx = m[r];
                        for (int v = 0; v < n; v++) mx = row[v] > mx ? row[v] : mx;
                        float sc = expf(m[r] - mx), sum = 0;
                        for (int v = 0; v < n; v++) { row[v] = expf(row[v] - mx); sum += row[v]; }
                        s[r] = s[r] * sc + sum; m[r] = mx;
                        if (sc != 1) for (int d = 0; d < C; d++) dx[(size_t)r * C + d] *= sc;
                    }
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, total, C, n, 1, yc, n, w + (size_t)v0 * C, C, v0 ? 1 : 0, dx, C);
                }
            }
            printf("V %d rows %d vocab chunk %d: %.1f ms\n", V, total, vc, (now() - t0) / 3 * 1e3);
        }
    }
}
