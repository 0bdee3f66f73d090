#include <immintrin.h>
#include <stdio.h>
#include <time.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+1e-9*t.tv_nsec;}
__attribute__((target("avx512f,avx512vnni"))) int main(){
  __m512i a0=_mm512_set1_epi32(1),a1=a0,a2=a0,a3=a0,a4=a0,a5=a0,a6=a0,a7=a0,a8=a0,a9=a0,a10=a0,a11=a0;
  __m512i w=_mm512_set1_epi32(0x01010101), x=_mm512_set1_epi32(0x02020202);
  long N=200000000; double t=now();
  for(long i=0;i<N;i++){
    __asm__ volatile("" : "+v"(w), "+v"(x));
    a0=_mm512_dpbusd_epi32(a0,w,x);a1=_mm512_dpbusd_epi32(a1,w,x);a2=_mm512_dpbusd_epi32(a2,w,x);a3=_mm512_dpbusd_epi32(a3,w,x);
    a4=_mm512_dpbusd_epi32(a4,w,x);a5=_mm512_dpbusd_epi32(a5,w,x);a6=_mm512_dpbusd_epi32(a6,w,x);a7=_mm512_dpbusd_epi32(a7,w,x);
    a8=_mm512_dpbusd_epi32(a8,w,x);a9=_mm512_dpbusd_epi32(a9,w,x);a10=_mm512_dpbusd_epi32(a10,w,x);a11=_mm512_dpbusd_epi32(a11,w,x);
  }
  double dt=now()-t; __m512i s=_mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(a0,a1),_mm512_add_epi32(a2,a3)),_mm512_add_epi32(_mm512_add_epi32(a4,a5),_mm512_add_epi32(a6,a7)));
  s=_mm512_add_epi32(s,_mm512_add_epi32(_mm512_add_epi32(a8,a9),_mm512_add_epi32(a10,a11)));
  printf("%.2f G vpdpbusd/s (%d)\n", 12.0*N/dt/1e9, _mm512_reduce_add_epi32(s));
  // fma for clock reference
  __m512 f0=_mm512_set1_ps(1),f1=f0,f2=f0,f3=f0,f4=f0,f5=f0,f6=f0,f7=f0,f8=f0,f9=f0,f10=f0,f11=f0; __m512 m=_mm512_set1_ps(0.999f),c=_mm512_set1_ps(0.001f);
  t=now(); for(long i=0;i<N;i++){ __asm__ volatile("" : "+v"(m), "+v"(c));
    f0=_mm512_fmadd_ps(f0,m,c);f1=_mm512_fmadd_ps(f1,m,c);f2=_mm512_fmadd_ps(f2,m,c);f3=_mm512_fmadd_ps(f3,m,c);f4=_mm512_fmadd_ps(f4,m,c);f5=_mm512_fmadd_ps(f5,m,c);
    f6=_mm512_fmadd_ps(f6,m,c);f7=_mm512_fmadd_ps(f7,m,c);f8=_mm512_fmadd_ps(f8,m,c);f9=_mm512_fmadd_ps(f9,m,c);f10=_mm512_fmadd_ps(f10,m,c);f11=_mm512_fmadd_ps(f11,m,c);}
  dt=now()-t; __m512 fs=_mm512_add_ps(_mm512_add_ps(_mm512_add_ps(f0,f1),_mm512_add_ps(f2,f3)),_mm512_add_ps(_mm512_add_ps(f4,f5),_mm512_add_ps(f6,f7)));
  fs=_mm512_add_ps(fs,_mm512_add_ps(_mm512_add_ps(f8,f9),_mm512_add_ps(f10,f11)));
  printf("%.2f G fma512/s (%f)\n", 12.0*N/dt/1e9, _mm512_reduce_add_ps(fs));
}
