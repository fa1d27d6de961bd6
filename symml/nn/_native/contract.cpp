// Batched small contractions with the batch innermost, for symml.nn.bilinear:
//
//     out[a, c, n] (+)= sum_k x[a, k, n] * y[k, c, n]        (n: the batch, stride 1)
//
// Stock torch runs this as K separate multiply-adds over [A, C, N] (each a parallel region, each
// reading and writing the whole output again) or as batched matmul of N tiny matrices (slow on
// CPUs). Here every output row block is accumulated in registers over k and written once, and
// the rows are shared out over torch's own OpenMP threads (at::parallel_for), so the kernel obeys
// torch.set_num_threads and adds no thread pool of its own. Plain C ABI: loaded with ctypes.

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>

namespace {

constexpr int64_t kBlock = 64;  // batch entries per task (4 AVX-512 float vectors)

// W consecutive batch entries of one output row: accumulated in registers over k, written once.
template <int64_t W, typename T>
inline void row_block(T* o, const T* x, const T* y, int64_t K, int64_t xk, int64_t yk,
                      bool accumulate) {
  T acc[W];
  for (int64_t i = 0; i < W; ++i) acc[i] = accumulate ? o[i] : T(0);
  for (int64_t k = 0; k < K; ++k) {
    const T* xp = x + k * xk;
    const T* yp = y + k * yk;
    for (int64_t i = 0; i < W; ++i) acc[i] += xp[i] * yp[i];
  }
  for (int64_t i = 0; i < W; ++i) o[i] = acc[i];
}

template <typename T>
void contract(T* out, const T* x, const T* y, int64_t A, int64_t K, int64_t C, int64_t N,
              int64_t xa, int64_t xk, int64_t yk, int64_t yc, int64_t oa, int64_t oc,
              bool accumulate) {
  const int64_t blocks = (N + kBlock - 1) / kBlock;
  const int64_t tasks = A * C * blocks;
  // a task is one block of one output row: K * kBlock multiply-adds. Below ~16k multiply-adds
  // per thread a fork/join costs more than it saves.
  const int64_t grain = std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(1, K * kBlock));
  at::parallel_for(0, tasks, grain, [&](int64_t begin, int64_t end) {
    for (int64_t task = begin; task < end; ++task) {
      const int64_t row = task / blocks;
      const int64_t n0 = (task % blocks) * kBlock;
      const int64_t a = row / C, c = row % C;
      T* o = out + a * oa + c * oc + n0;
      const T* xr = x + a * xa + n0;
      const T* yr = y + c * yc + n0;
      const int64_t len = std::min(kBlock, N - n0);
      if (len == kBlock) {
        row_block<kBlock>(o, xr, yr, K, xk, yk, accumulate);
        continue;
      }
      // the row's last, partial block, in register blocks of 32, 16, ..., 1 (each at most once)
      int64_t i = 0;
      if (len & 32) row_block<32>(o + i, xr + i, yr + i, K, xk, yk, accumulate), i += 32;
      if (len & 16) row_block<16>(o + i, xr + i, yr + i, K, xk, yk, accumulate), i += 16;
      if (len & 8) row_block<8>(o + i, xr + i, yr + i, K, xk, yk, accumulate), i += 8;
      if (len & 4) row_block<4>(o + i, xr + i, yr + i, K, xk, yk, accumulate), i += 4;
      if (len & 2) row_block<2>(o + i, xr + i, yr + i, K, xk, yk, accumulate), i += 2;
      if (len & 1) row_block<1>(o + i, xr + i, yr + i, K, xk, yk, accumulate);
    }
  });
}

}  // namespace

extern "C" {

void symml_contract_f32(float* out, const float* x, const float* y, int64_t A, int64_t K,
                        int64_t C, int64_t N, int64_t xa, int64_t xk, int64_t yk, int64_t yc,
                        int64_t oa, int64_t oc, bool accumulate) {
  contract(out, x, y, A, K, C, N, xa, xk, yk, yc, oa, oc, accumulate);
}

void symml_contract_f64(double* out, const double* x, const double* y, int64_t A, int64_t K,
                        int64_t C, int64_t N, int64_t xa, int64_t xk, int64_t yk, int64_t yc,
                        int64_t oa, int64_t oc, bool accumulate) {
  contract(out, x, y, A, K, C, N, xa, xk, yk, yc, oa, oc, accumulate);
}

}  // extern "C"
