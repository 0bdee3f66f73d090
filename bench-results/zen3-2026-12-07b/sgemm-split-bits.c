#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(int argc,char**argv){
  int m=atoi(argv[1]),n=atoi(argv[2]),k=atoi(argv[3]),step=atoi(argv[4]),bycols=atoi(argv[5]);
  openblas_set_num_threads(atoi(argv[6]));
  float *a=malloc(4*m*k),*b=malloc(4*n*k),*c1=calloc(m*n,4),*c2=calloc(m*n,4);
  srand(1); for(int i=0;i<m*k;i++)a[i]=rand()/(float)RAND_MAX-0.5f; for(int i=0;i<n*k;i++)b[i]=rand()/(float)RAND_MAX-0.5f;
  // row-major C = A (m×k) · Bᵀ (B n×k)
  cblas_sgemm(CblasRowMajor,CblasNoTrans,CblasTrans,m,n,k,1,a,k,b,k,0,c1,n);
  openblas_set_num_threads(1);
  if(bycols) for(int lo=0;lo<n;lo+=step){int w=lo+step<n?step:n-lo; cblas_sgemm(CblasRowMajor,CblasNoTrans,CblasTrans,m,w,k,1,a,k,b+lo*k,k,0,c2+lo,n);}
  else for(int lo=0;lo<m;lo+=step){int w=lo+step<m?step:m-lo; cblas_sgemm(CblasRowMajor,CblasNoTrans,CblasTrans,w,n,k,1,a+lo*k,k,b,k,0,c2+lo*n,n);}
  int d=0; for(int i=0;i<m*n;i++) d+=c1[i]!=c2[i];
  printf("m %d n %d k %d step %d %s whole-threads %s: %d differ\n",m,n,k,step,bycols?"cols":"rows",argv[6],d);
}
