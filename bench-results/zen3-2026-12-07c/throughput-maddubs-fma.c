#include <immintrin.h>
#include <stdio.h>
#include <time.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+1e-9*t.tv_nsec;}
__attribute__((target("avx2,fma"))) int main(){
  __m256i a[8]; __m256i w=_mm256_set1_epi8(3), x=_mm256_set1_epi8(1);
  for(int i=0;i<8;i++)a[i]=_mm256_set1_epi16(i);
  long N=200000000; double t0=now();
  for(long n=0;n<N;n++){ for(int i=0;i<8;i++){ a[i]=_mm256_maddubs_epi16(a[i],x);} __asm__ volatile(""::"x"(a[0]),"x"(a[1]),"x"(a[2]),"x"(a[3]),"x"(a[4]),"x"(a[5]),"x"(a[6]),"x"(a[7]));}
  double t=now()-t0; printf("maddubs: %.2f Gops/s\n", N*8/t/1e9);
  __m256 f[8]; __m256 m=_mm256_set1_ps(1.0f);
  for(int i=0;i<8;i++)f[i]=_mm256_set1_ps(i);
  t0=now();
  for(long n=0;n<N;n++){ for(int i=0;i<8;i++){ f[i]=_mm256_fmadd_ps(f[i],m,m);} __asm__ volatile(""::"x"(f[0]),"x"(f[1]),"x"(f[2]),"x"(f[3]),"x"(f[4]),"x"(f[5]),"x"(f[6]),"x"(f[7]));}
  t=now()-t0; printf("fma: %.2f Gops/s\n", N*8/t/1e9);
  t0=now();
  for(long n=0;n<N;n++){ for(int i=0;i<8;i++){ a[i]=_mm256_add_epi16(a[i],x);} __asm__ volatile(""::"x"(a[0]),"x"(a[1]),"x"(a[2]),"x"(a[3]),"x"(a[4]),"x"(a[5]),"x"(a[6]),"x"(a[7]));}
  t=now()-t0; printf("add16: %.2f Gops/s\n", N*8/t/1e9);
  t0=now();
  for(long n=0;n<N;n++){ for(int i=0;i<8;i++){ a[i]=_mm256_madd_epi16(a[i],x);} __asm__ volatile(""::"x"(a[0]),"x"(a[1]),"x"(a[2]),"x"(a[3]),"x"(a[4]),"x"(a[5]),"x"(a[6]),"x"(a[7]));}
  t=now()-t0; printf("madd: %.2f Gops/s\n", N*8/t/1e9);
}
