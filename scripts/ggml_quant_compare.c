// Kernel-level comparison of lorad's quantized products with ggml's (llama.cpp's CPU backend), one thread, measured
// in thread CPU time so a busy machine skews it less: ggml's vec_dot (the GEMV llama.cpp runs for weights it does
// not repack) over the same blocks, activations quantized inside the timed loop on both sides.
// Build and run (after `swift build -c release`; LLAMA = a llama.cpp build with libggml-cpu.so):
//   B=.build/release/CKernels.build; L=$LLAMA/build/bin
//   clang -O2 -ISources/CKernels/include -o /tmp/ggml_quant_compare scripts/ggml_quant_compare.c $B/cpu.c.o \
//     $B/kernels.c.o $B/quant.c.o $B/quant_avx2.c.o $B/quant_avx512.c.o $B/quant_ref.c.o $B/vector.c.o $B/pool.c.o \
//     -L$L -lggml-cpu -lggml-base -Wl,-rpath,$L -lm -lpthread
//   /tmp/ggml_quant_compare N M      (N weight rows of K = 2048: 64 stays in L2, 8192 streams from L3)
#include "ckernels.h"
#include "quant.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <stdint.h>
typedef void (*from_float_t)(const float *x, void *y, int64_t k);
typedef void (*vec_dot_t)(int n, float *s, size_t bs, const void *x, size_t bx, const void *y, size_t by, int nrc);
struct traits { from_float_t from_float; vec_dot_t vec_dot; int vec_dot_type; int64_t nrows; };
extern const struct traits *ggml_get_type_traits_cpu(int type);
extern void ggml_cpu_init(void);
extern size_t ggml_row_size(int type, int64_t ne);
static double tcpu(void){struct timespec t;clock_gettime(CLOCK_THREAD_CPUTIME_ID,&t);return t.tv_sec+t.tv_nsec*1e-9;}
int main(int argc,char**argv){
  ggml_cpu_init();
  int types[]={LK_T_Q4_K,LK_T_Q6_K,LK_T_Q8_0,LK_T_Q4_1,LK_T_Q4_0,LK_T_Q5_K,LK_T_Q5_0,LK_T_Q5_1};
  const char*names[]={"Q4_K","Q6_K","Q8_0","Q4_1","Q4_0","Q5_K","Q5_0","Q5_1"};
  size_t K=2048, N=argc>1?atoi(argv[1]):64; int M=argc>2?atoi(argv[2]):1;
  float*w=malloc(N*K*4),*x=malloc(M*K*4),*y=malloc(M*N*4),*y2=malloc(M*N*4);
  for(size_t i=0;i<N*K;i++) w[i]=(float)((rand()%2001)-1000)*1e-3f;
  for(size_t i=0;i<M*K;i++) x[i]=(float)((rand()%2001)-1000)*1e-3f;
  lk_isa_force(2);
  for(int t=0;t<8;t++){
    int ty=types[t]; size_t rb=lk_q_row_bytes(ty,K); void*q=aligned_alloc(64,(N*rb+63)/64*64);
    for(size_t n=0;n<N;n++) lk_q_quantize(ty,w+n*K,(char*)q+n*rb,K);
    void*qx=aligned_alloc(64,lk_q_act_bytes(ty,K)*M); 
    const struct traits*tr=ggml_get_type_traits_cpu(ty); size_t arb=ggml_row_size(tr->vec_dot_type,K);
    void*gx=aligned_alloc(64,(arb*M+63)/64*64);
    double best_ours=1e9,best_ggml=1e9;
    for(int round=0;round<3;round++){
      int reps=0; double t0=tcpu(),t1;
      do{ lk_q_quantize_act(ty,x,K,M,K,qx); lk_q_matmul(ty,q,K,0,N,qx,M,y,N); reps++; t1=tcpu(); }while(t1-t0<0.2);
      if((t1-t0)/reps<best_ours) best_ours=(t1-t0)/reps;
      reps=0; t0=tcpu();
      do{ for(int m=0;m<M;m++) ggml_get_type_traits_cpu(tr->vec_dot_type)->from_float(x+m*K,(char*)gx+m*arb,K);
          for(int m=0;m<M;m++) for(size_t n=0;n<N;n++) tr->vec_dot(K,y2+m*N+n,0,(char*)q+n*rb,0,(char*)gx+m*arb,0,1);
          reps++; t1=tcpu(); }while(t1-t0<0.2);
      if((t1-t0)/reps<best_ggml) best_ggml=(t1-t0)/reps;
    }
    double maxd=0,maxa=0; for(size_t i=0;i<M*N;i++){double d=y[i]-y2[i]; if(d<0)d=-d; if(d>maxd)maxd=d; double a=y2[i]<0?-y2[i]:y2[i]; if(a>maxa)maxa=a;}
    printf("%s N=%zu M=%d: ours %.3f ms (%.1f GB/s cpu)  ggml vec_dot %.3f ms (%.1f GB/s cpu)  ours/ggml time %.2f  max|diff| %.2g of max|y| %.2g\n",
      names[t],N,M,best_ours*1e3,N*rb/best_ours/1e9,best_ggml*1e3,N*rb/best_ggml/1e9,best_ours/best_ggml,maxd,maxa);
  }
}
