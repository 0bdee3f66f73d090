#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(int argc,char**argv){
  int K=atoi(argv[1]), N=atoi(argv[2]); int transB = argc>3 ? atoi(argv[3]) : 1;
  float *A=malloc(sizeof(float)*200*K), *B=malloc(sizeof(float)*K*N), *C=malloc(sizeof(float)*200*N), *ref=malloc(sizeof(float)*200*N);
  srand(1); for(int i=0;i<200*K;i++) A[i]=rand()/(float)RAND_MAX-0.5f; for(int i=0;i<K*N;i++) B[i]=rand()/(float)RAND_MAX-0.5f;
  // reference: each row alone (M=1)
  for(int r=0;r<200;r++) cblas_sgemm(CblasRowMajor,CblasNoTrans,transB?CblasTrans:CblasNoTrans,1,N,K,1,A+r*K,K,B,transB?K:N,0,ref+r*N,N);
  for(int M=2;M<=200;M++){
    cblas_sgemm(CblasRowMajor,CblasNoTrans,transB?CblasTrans:CblasNoTrans,M,N,K,1,A,K,B,transB?K:N,0,C,N);
    int bad=0,badrows=0; for(int r=0;r<M;r++){int rb=0; for(int j=0;j<N;j++) if(C[r*N+j]!=ref[r*N+j]) {bad++;rb=1;} badrows+=rb;}
    if(bad) printf("M=%d: %d elements in %d rows differ from M=1\n",M,bad,badrows);
  }
  return 0;
}
