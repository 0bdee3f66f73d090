#include "CKernels.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
int main(int argc,char**argv){
  int T=argc>1?atoi(argv[1]):427, n=argc>2?atoi(argv[2]):1536, r=8, threads=argc>3?atoi(argv[3]):2, iters=argc>4?atoi(argv[4]):200;
  tk_pool_set_threads(threads);
  float *u=malloc(sizeof(float)*T*r), *y=malloc(sizeof(float)*T*n), *g=calloc(r*n,sizeof(float)), *yy=malloc(sizeof(float)*T*n);
  for(int i=0;i<T*r;i++)u[i]=(float)((i*37)%101)/101.f-0.5f;
  for(int i=0;i<T*n;i++)y[i]=(float)((i*53)%97)/97.f-0.5f;
  double best=1e9, tot=0;
  for(int it=0;it<iters;it++){
    memset(yy,0,sizeof(float)*T*n); // evict-ish: touch other memory
    double t0=now();
    tk_lora_utv(g,0,u,r,y,n,T,r,n,1.0f);
    double dt=now()-t0; tot+=dt; if(dt<best)best=dt;
  }
  double fl=2.0*T*r*n;
  double cs=0; for(int i=0;i<r*n;i++)cs+=g[i];
  printf("utv T=%d n=%d thr=%d: best %.1f us (%.1f GFLOP/s) mean %.1f us checksum %.6g\n",T,n,threads,best*1e6,fl/best*1e-9,tot/iters*1e6,fl/(tot/iters)*1e-9>0?cs:cs);
  // uw: y += u * W (T x r) * (r x n)
  float *w=malloc(sizeof(float)*r*n); for(int i=0;i<r*n;i++)w[i]=(float)((i*29)%89)/89.f-0.5f;
  best=1e9;tot=0;
  for(int it=0;it<iters;it++){ memset(yy,0,sizeof(float)*T*n); double t0=now();
    tk_lora_product(y,n,u,r,w,T,r,n,0.5f,1); double dt=now()-t0; tot+=dt; if(dt<best)best=dt;}
  printf("uw  T=%d n=%d thr=%d: best %.1f us (%.1f GFLOP/s) mean %.1f us\n",T,n,threads,best*1e6,fl/best*1e-9,tot/iters*1e6);
  // xm: u = y * At   (T x n) * (n x r)
  float *at=malloc(sizeof(float)*r*n); for(int i=0;i<r*n;i++)at[i]=w[i];
  best=1e9;tot=0;
  for(int it=0;it<iters;it++){ memset(yy,0,sizeof(float)*T*n); double t0=now();
    tk_lora_product(u,r,y,n,at,T,n,r,1.0f,0); double dt=now()-t0; tot+=dt; if(dt<best)best=dt;}
  printf("xm  T=%d n=%d thr=%d: best %.1f us (%.1f GFLOP/s) mean %.1f us\n",T,n,threads,best*1e6,fl/best*1e-9,tot/iters*1e6);
  return 0;}
