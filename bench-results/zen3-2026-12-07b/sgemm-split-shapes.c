#include <cblas.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
typedef struct {int tb,m,n,k,lo,w; float *a,*b,*c;} job;
static void run(job*j){ cblas_sgemm(CblasRowMajor,CblasNoTrans,j->tb?CblasTrans:CblasNoTrans,j->m,j->w,j->k,1,j->a,j->k,j->tb? j->b+(size_t)j->lo*j->k : j->b+j->lo, j->tb? j->k : j->n,0,j->c+j->lo,j->n);}
static void*thr(void*p){ job*j=p; for(int i=0;j[i].w>0;i++) run(&j[i]); return 0;}
int main(int argc,char**argv){
  int shapes[][4]={{1,427,960,576},{1,427,576,576},{1,427,3072,576},{1,427,576,1536},{0,427,576,960},{0,427,576,3072},{0,427,1536,576},{1,170,8192,576},{0,170,576,8192},{1,512,1536,576}};
  int mode=atoi(argv[1]); // 0: openblas 2 threads; 1: split 2 blocks; 2: split 4 blocks (2 per thread, static)
  int reps=atoi(argv[2]);
  for(int s=0;s<10;s++){
    int tb=shapes[s][0],m=shapes[s][1],n=shapes[s][2],k=shapes[s][3];
    float *a=malloc(4L*m*k),*b=malloc(4L*n*k),*c=malloc(4L*m*n);
    for(long i=0;i<(long)m*k;i++)a[i]=(i%7)*0.1f; for(long i=0;i<(long)n*k;i++)b[i]=(i%5)*0.1f;
    // big buffer to evict
    static float *ev=0; if(!ev){ev=malloc(64<<20);}
    double best=1e9, sum=0;
    for(int r=0;r<reps;r++){
      memset(ev,r,64<<20);
      double t0=now();
      if(mode==0){ openblas_set_num_threads(2); job j={tb,m,n,k,0,n,a,b,c}; run(&j);}
      else { openblas_set_num_threads(1); int blocks=mode==1?2:4; int step=((n+blocks-1)/blocks+47)/48*48;
        job js[2][4]; int cnt[2]={0,0}; for(int i=0,lo=0;lo<n;lo+=step,i++){ int w=lo+step<n?step:n-lo; job j={tb,m,n,k,lo,w,a,b,c}; js[i%2][cnt[i%2]++]=j;}
        js[0][cnt[0]].w=0; js[1][cnt[1]].w=0;
        pthread_t t; pthread_create(&t,0,thr,js[1]); thr(js[0]); pthread_join(t,0);}
      double dt=now()-t0; sum+=dt; if(dt<best)best=dt;
    }
    printf("mode %d shape tb%d %dx%dx%d: best %.2f GF/s mean %.2f GF/s\n",mode,tb,m,n,k,2.0*m*n*k/best*1e-9,2.0*m*n*k/(sum/reps)*1e-9);
    free(a);free(b);free(c);
  }
}
