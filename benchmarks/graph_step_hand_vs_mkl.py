"""Experiment behind cpp/graph_conv_cpu.cpp's choice of MKL for the graph step (not part of `make bench`).

The graph step of graph_conv is K skinny GEMMs (C*T, V) @ (V, V). This times them single-threaded
with MKL (torch.mm) against a hand loop auto-vectorised by g++ -O3 -march=x86-64-v3 (A padded to
32 columns, two rows per iteration). Compiles the loop with torch.utils.cpp_extension.load_inline
(about a minute).
"""
import torch
from torch.utils import benchmark
from torch.utils.cpp_extension import load_inline

src = r'''
#include <torch/extension.h>
void graph_step(torch::Tensor x, torch::Tensor A_pad, torch::Tensor out) {
  const int64_t R = x.size(0), V = x.size(1), K = A_pad.size(0);
  const float* xp = x.data_ptr<float>();
  const float* ap = A_pad.data_ptr<float>();
  float* op = out.data_ptr<float>();
  for (int64_t k = 0; k < K; ++k) {
    const float* a = ap + k * V * 32;
    float* o = op + k * R * V;
    int64_t r = 0;
    for (; r + 1 < R; r += 2) {
      float acc0[32] = {0}, acc1[32] = {0};
      const float* x0 = xp + r * V; const float* x1 = x0 + V;
      for (int64_t v = 0; v < V; ++v) {
        const float s0 = x0[v], s1 = x1[v]; const float* av = a + v * 32;
        for (int w = 0; w < 32; ++w) { acc0[w] += s0 * av[w]; acc1[w] += s1 * av[w]; }
      }
      for (int64_t w = 0; w < V; ++w) { o[r * V + w] = acc0[w]; o[(r + 1) * V + w] = acc1[w]; }
    }
    for (; r < R; ++r) {
      float acc0[32] = {0};
      for (int64_t v = 0; v < V; ++v) {
        const float s0 = xp[r * V + v];
        for (int w = 0; w < 32; ++w) acc0[w] += s0 * a[v * 32 + w];
      }
      for (int64_t w = 0; w < V; ++w) o[r * V + w] = acc0[w];
    }
  }
}
'''
m = load_inline("gc_micro", cpp_sources=src, functions=["graph_step"],
                extra_cflags=["-O3", "-march=x86-64-v3"], verbose=False)
torch.set_num_threads(1)
for C, T in [(64, 100), (128, 25), (64, 50)]:
    V, K = 25, 3
    x, A = torch.randn(C * T, V), torch.rand(K, V, V)
    A_pad = torch.zeros(K, V, 32)
    A_pad[:, :, :V] = A
    out_hand, out_mkl = torch.empty(K, C * T, V), torch.empty(K, C * T, V)
    m.graph_step(x, A_pad, out_hand)
    for k in range(K):
        torch.mm(x, A[k], out=out_mkl[k])
    torch.testing.assert_close(out_hand, out_mkl, rtol=1e-4, atol=1e-4)
    g = dict(m=m, x=x, A=A, A_pad=A_pad, oh=out_hand, om=out_mkl, torch=torch, K=K)
    res = {}
    for rnd in range(3):
        for name, stmt in (("mkl", "for k in range(K): torch.mm(x, A[k], out=om[k])"),
                           ("hand", "m.graph_step(x, A_pad, oh)")):
            timer = benchmark.Timer(stmt, globals=g)
            res.setdefault(name, []).append(timer.blocked_autorange(min_run_time=0.3).median)
    fl = 2 * C * T * V * V * K
    mk, hd = sorted(res["mkl"])[1], sorted(res["hand"])[1]
    print(f"C={C} T={T}: mkl {mk*1e6:.0f}us ({fl/mk/1e9:.1f} GF/s)  hand {hd*1e6:.0f}us "
          f"({fl/hd/1e9:.1f} GF/s)  hand/mkl speed {mk/hd:.2f}x")
