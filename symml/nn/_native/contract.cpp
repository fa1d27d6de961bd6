// Batched small contractions with the batch innermost, for symml.nn.bilinear:
//
//     out[a, c, n] = init[a, c, n] + sum_k x[a, k, n] * y[k, c, n]   (n: the batch, stride 1)
//
// with init = 0 (null), = out (accumulate), or another tensor (e.g. a residual input).
//
// Stock torch runs this as K separate multiply-adds over [A, C, N] (each a parallel region, each
// reading and writing the whole output again) or as batched matmul of N tiny matrices (slow on
// CPUs). Here every output row block is accumulated in registers over k and written once, and
// the rows are shared out over torch's own OpenMP threads (at::parallel_for), so the kernel obeys
// torch.set_num_threads and adds no thread pool of its own. Plain C ABI: loaded with ctypes.

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>
#include <type_traits>

namespace {

constexpr int64_t kBlock = 64;  // batch entries per task (4 AVX-512 float vectors)

// W consecutive batch entries of one output row: accumulated in registers over k, written once.
template <int64_t W, typename T>
inline void row_block(T* o, const T* init, const T* x, const T* y, int64_t K, int64_t xk,
                      int64_t yk) {
  T acc[W];
  for (int64_t i = 0; i < W; ++i) acc[i] = init ? init[i] : T(0);
  for (int64_t k = 0; k < K; ++k) {
    const T* xp = x + k * xk;
    const T* yp = y + k * yk;
    for (int64_t i = 0; i < W; ++i) acc[i] += xp[i] * yp[i];
  }
  for (int64_t i = 0; i < W; ++i) o[i] = acc[i];
}

template <typename T>
void contract(T* out, const T* init, const T* x, const T* y, int64_t A, int64_t K, int64_t C,
              int64_t N, int64_t xa, int64_t xk, int64_t yk, int64_t yc, int64_t oa, int64_t oc,
              int64_t ia, int64_t ic) {
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
      const T* in = init ? init + a * ia + c * ic + n0 : nullptr;
      const T* xr = x + a * xa + n0;
      const T* yr = y + c * yc + n0;
      const int64_t len = std::min(kBlock, N - n0);
      if (len == kBlock) {
        row_block<kBlock>(o, in, xr, yr, K, xk, yk);
        continue;
      }
      // the row's last, partial block, in register blocks of 32, 16, ..., 1 (each at most once)
      int64_t i = 0;
      auto part = [&](auto width) {
        constexpr int64_t w = decltype(width)::value;
        if (len & w) {
          row_block<w>(o + i, in ? in + i : nullptr, xr + i, yr + i, K, xk, yk);
          i += w;
        }
      };
      part(std::integral_constant<int64_t, 32>{});
      part(std::integral_constant<int64_t, 16>{});
      part(std::integral_constant<int64_t, 8>{});
      part(std::integral_constant<int64_t, 4>{});
      part(std::integral_constant<int64_t, 2>{});
      part(std::integral_constant<int64_t, 1>{});
    }
  });
}

}  // namespace

extern "C" {

// init may be null (start from zero) or out itself (accumulate); ia, ic: its strides
void symml_contract_f32(float* out, const float* init, const float* x, const float* y, int64_t A,
                        int64_t K, int64_t C, int64_t N, int64_t xa, int64_t xk, int64_t yk,
                        int64_t yc, int64_t oa, int64_t oc, int64_t ia, int64_t ic) {
  contract(out, init, x, y, A, K, C, N, xa, xk, yk, yc, oa, oc, ia, ic);
}

void symml_contract_f64(double* out, const double* init, const double* x, const double* y,
                        int64_t A, int64_t K, int64_t C, int64_t N, int64_t xa, int64_t xk,
                        int64_t yk, int64_t yc, int64_t oa, int64_t oc, int64_t ia, int64_t ic) {
  contract(out, init, x, y, A, K, C, N, xa, xk, yk, yc, oa, oc, ia, ic);
}

}  // extern "C"
