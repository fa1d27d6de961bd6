// Programs of small contractions with the batch innermost, for symml.nn._kernels.contract:
//
//     out[a, c, n] = init[a, c, n] + sum_k x[a, k, n] * y[k, c, n]   (n: the batch, stride 1)
//
// with init = 0, = out (accumulate), or another view (e.g. a residual input). Every operand is a
// view of a buffer of rows of length N (the batch); each of its two index dimensions may be a
// pair (outer, inner) with its own row strides, so transposed and permuted views of a field
// (a source S_l[i, j] read as (l, j) by i) need no copy.
//
// Stock torch runs one contraction as K separate multiply-adds over [A, C, N] (each a parallel
// region, each reading and writing the whole output again) or as batched matmul of N tiny
// matrices (slow on CPUs). Here every output row block is accumulated in registers over k and
// written once. A whole program (all contractions of one stage of a layer) runs in one parallel
// region, split over blocks of the batch: a thread owns its columns of every buffer, so the
// contractions run in program order per sample and may write the same rows without racing, and
// there is one fork/join per stage, not one per contraction (which costs 60-70 us each when
// waking a thread is slow, e.g. OMP_WAIT_POLICY=PASSIVE). Runs on torch's own OpenMP threads
// (at::parallel_for), so it obeys torch.set_num_threads. Plain C ABI: loaded with ctypes.

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>
#include <type_traits>

namespace {

// One job: 31 int64 fields. A view is (buffer, first row, outer stride, inner stride of its
// first index dimension, outer stride, inner stride of its second), strides in rows.
constexpr int64_t kJobFields = 31;
enum Field : int64_t {
  kOut = 0,    // view [a, c]
  kInit = 6,   // view [a, c]; buffer -1: none
  kAcc = 12,   // 1: init is out itself
  kX = 13,     // view [a, k]
  kY = 19,     // view [k, c]
  kSizes = 25  // A1, A2, K1, K2, C1, C2
};

// The k terms of a row: k = (k1, k2) at element offsets k1 * s1 + k2 * s2 in x and t1, t2 in y
// (strides, not a table of offsets: an offset loaded per term kept the accumulators out of
// registers, 4x slower).
struct Terms {
  int64_t K1, K2, xs1, xs2, ys1, ys2;
};

// W consecutive batch entries of one output row: accumulated in registers over k, written once.
template <int64_t W, typename T>
inline void row_block(T* o, const T* init, const T* x, const T* y, const Terms& t) {
  T acc[W];
  for (int64_t i = 0; i < W; ++i) acc[i] = init ? init[i] : T(0);
  for (int64_t k1 = 0; k1 < t.K1; ++k1)
    for (int64_t k2 = 0; k2 < t.K2; ++k2) {
      const T* xp = x + k1 * t.xs1 + k2 * t.xs2;
      const T* yp = y + k1 * t.ys1 + k2 * t.ys2;
      for (int64_t i = 0; i < W; ++i) acc[i] += xp[i] * yp[i];
    }
  for (int64_t i = 0; i < W; ++i) o[i] = acc[i];
}

// `len` (< W) entries: in register blocks of 32, 16, ..., 1, each at most once.
template <typename T>
inline void row_tail(T* o, const T* init, const T* x, const T* y, const Terms& t, int64_t len) {
  int64_t i = 0;
  auto part = [&](auto width) {
    constexpr int64_t w = decltype(width)::value;
    if (len & w) {
      row_block<w>(o + i, init ? init + i : nullptr, x + i, y + i, t);
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

// Row of view v at index (i1, i2, j1, j2).
inline int64_t row(const int64_t* v, int64_t i1, int64_t i2, int64_t j1, int64_t j2) {
  return v[1] + i1 * v[2] + i2 * v[3] + j1 * v[4] + j2 * v[5];
}

// One job on batch entries [n0, n0 + len) (len <= W: a full block of W, or the last one).
template <int64_t W, typename T>
void run_job(T* const* bufs, const int64_t* job, int64_t N, int64_t n0, int64_t len) {
  const int64_t* s = job + kSizes;
  const int64_t A1 = s[0], A2 = s[1], C1 = s[4], C2 = s[5];
  const int64_t* out = job + kOut;
  const int64_t* init = job + kInit;
  const int64_t* x = job + kX;
  const int64_t* y = job + kY;
  const bool any = s[2] * s[3] > 0;
  const Terms t{any ? s[2] : 0, s[3], x[4] * N, x[5] * N, y[2] * N, y[3] * N};
  T* ob = bufs[out[0]] + n0;
  const T* ib = job[kAcc] ? ob : (init[0] >= 0 ? bufs[init[0]] + n0 : nullptr);
  const int64_t* iv = job[kAcc] ? out : init;
  const T* xb = any ? bufs[x[0]] + n0 : nullptr;
  const T* yb = any ? bufs[y[0]] + n0 : nullptr;
  for (int64_t a1 = 0; a1 < A1; ++a1)
    for (int64_t a2 = 0; a2 < A2; ++a2)
      for (int64_t c1 = 0; c1 < C1; ++c1)
        for (int64_t c2 = 0; c2 < C2; ++c2) {
          T* o = ob + row(out, a1, a2, c1, c2) * N;
          const T* in = ib ? ib + row(iv, a1, a2, c1, c2) * N : nullptr;
          const T* xr = any ? xb + row(x, a1, a2, 0, 0) * N : nullptr;
          const T* yr = any ? yb + row(y, 0, 0, c1, c2) * N : nullptr;
          if (len == W)
            row_block<W>(o, in, xr, yr, t);
          else
            row_tail(o, in, xr, yr, t, len);
        }
}

template <int64_t W, typename T>
void run_program(T* const* bufs, const int64_t* jobs, int64_t n_jobs, int64_t N) {
  const int64_t blocks = (N + W - 1) / W;
  at::parallel_for(0, blocks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const int64_t n0 = b * W;
      const int64_t len = std::min(W, N - n0);
      for (int64_t j = 0; j < n_jobs; ++j) run_job<W>(bufs, jobs + j * kJobFields, N, n0, len);
    }
  });
}

// Blocks of 64 batch entries (4 AVX-512 float vectors); of 16 when that leaves fewer than two
// blocks per thread, so that a small batch is still shared out.
template <typename T>
void run(T* const* bufs, const int64_t* jobs, int64_t n_jobs, int64_t N) {
  if (N >= 128 * at::get_num_threads())
    run_program<64>(bufs, jobs, n_jobs, N);
  else
    run_program<16>(bufs, jobs, n_jobs, N);
}

}  // namespace

extern "C" {

// bufs: one pointer per buffer (rows of N entries, contiguous); jobs: n_jobs records of
// kJobFields int64 each, run in order for every batch entry.
void symml_contract_program_f32(float* const* bufs, const int64_t* jobs, int64_t n_jobs,
                                int64_t N) {
  run(bufs, jobs, n_jobs, N);
}

void symml_contract_program_f64(double* const* bufs, const int64_t* jobs, int64_t n_jobs,
                                int64_t N) {
  run(bufs, jobs, n_jobs, N);
}

}  // extern "C"
