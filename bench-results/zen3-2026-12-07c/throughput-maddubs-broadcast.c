#include <immintrin.h>
#include <stdio.h>
#include <time.h>
#include <stdint.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+1e-9*t.tv_nsec;}
#define KEEP(v) __asm__ volatile(""::"x"(v))
__attribute__((target("avx2,fma"),noinline)) void run(const int32_t *xs, __m256i *wm, long N){
  __m256i s[8]; for(int i=0;i<8;i++) s[i]=_mm256_set1_epi16(i);
  double t0=now();
  for(long n=0;n<N;n++){
    const int32_t *x = xs + (n & 15)*8;
    for(int i=0;i<8;i++){ __m256i b=_mm256_set1_epi32(x[i]); s[i]=_mm256_add_epi16(s[i],b); }
    __asm__ volatile("":::"memory");
  }
  for(int i=0;i<8;i++) KEEP(s[i]);
  double t=now()-t0; printf("bcast+add: %.2f G/s\n", N*8/t/1e9);
  t0=now();
  for(long n=0;n<N;n++){
    const int32_t *x = xs + (n & 15)*8;
    for(int i=0;i<8;i++){ __m256i b=_mm256_set1_epi32(x[i]); s[i]=_mm256_add_epi16(s[i],_mm256_maddubs_epi16(wm[i&3],b)); }
    __asm__ volatile("":::"memory");
  }
  for(int i=0;i<8;i++) KEEP(s[i]);
  t=now()-t0; printf("bcast+maddubs(wmem)+add: %.2f G/s\n", N*8/t/1e9);
  __m256i w0=wm[0],w1=wm[1],w2=wm[2],w3=wm[3];
  t0=now();
  for(long n=0;n<N;n++){
    const int32_t *x = xs + (n & 15)*8;
    __m256i b0=_mm256_set1_epi32(x[0]), b1=_mm256_set1_epi32(x[1]);
    s[0]=_mm256_add_epi16(s[0],_mm256_maddubs_epi16(w0,b0));
    s[1]=_mm256_add_epi16(s[1],_mm256_maddubs_epi16(w1,b0));
    s[2]=_mm256_add_epi16(s[2],_mm256_maddubs_epi16(w2,b0));
    s[3]=_mm256_add_epi16(s[3],_mm256_maddubs_epi16(w3,b0));
    s[4]=_mm256_add_epi16(s[4],_mm256_maddubs_epi16(w0,b1));
    s[5]=_mm256_add_epi16(s[5],_mm256_maddubs_epi16(w1,b1));
    s[6]=_mm256_add_epi16(s[6],_mm256_maddubs_epi16(w2,b1));
    s[7]=_mm256_add_epi16(s[7],_mm256_maddubs_epi16(w3,b1));
    __asm__ volatile("":::"memory");
  }
  for(int i=0;i<8;i++) KEEP(s[i]);
  t=now()-t0; printf("1 bcast per 4 maddubs (wreg): %.2f G maddubs/s\n", N*8/t/1e9);
}
int main(){ static int32_t xs[256]; for(int i=0;i<256;i++)xs[i]=i*12345; static __m256i wm[4]; for(int i=0;i<4;i++) wm[i]=_mm256_set1_epi8(i+3); run(xs,wm,100000000); }
