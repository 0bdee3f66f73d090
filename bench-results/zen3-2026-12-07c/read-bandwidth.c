#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+1e-9*t.tv_nsec;}
int main(int argc,char**argv){ size_t n=(size_t)256<<20; float *a=aligned_alloc(64,n); for(size_t i=0;i<n/4;i++)a[i]=i;
 double best=1e9; __m256 s=_mm256_setzero_ps();
 for(int r=0;r<5;r++){ double t0=now(); for(size_t i=0;i<n/4;i+=32){ s=_mm256_add_ps(s,_mm256_load_ps(a+i)); s=_mm256_add_ps(s,_mm256_load_ps(a+i+8)); s=_mm256_add_ps(s,_mm256_load_ps(a+i+16)); s=_mm256_add_ps(s,_mm256_load_ps(a+i+24));} double t=now()-t0; if(t<best)best=t;}
 float o[8]; _mm256_storeu_ps(o,s); printf("read %.1f GB/s (%g)\n", n/best/1e9, o[0]); }
