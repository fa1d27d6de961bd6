"""Every fast path of `symml.nn`, behind one boundary.

A layer file holds the math: its constructor, a reference forward in ordinary differentiable torch
ops, and one call into this package. A kernel computes the same map as that reference, faster: a
hand-written autograd Function, products through oneDNN, contractions in compiled code. It is
handed the reference and differentiates it when asked for a differentiable backward
(``create_graph=True``), so double backward always works. ``tests/nn/test_kernels.py`` checks every
kernel against its reference at this boundary (values, gradients, float32 and float64, with the
compiled code on and off); the layer tests do not need to know the kernels exist.

Kernels (what a layer calls):

- `linear_t` — `EquivariantLinear.forward_t` in training: ``W x + b`` with ``W = Σ θ_k B_k``
  built by one scatter and multiplied in one GEMM (plan: `linear_plan`, per dtype
  `linear_kernel`).
- `bilinear_t` — `EquivariantBilinear.forward_t`: ``W(x) x`` as GEMMs and per-sample contraction
  programs (plan: `bilinear_plan`).
- `fused_edges` — the edge pipeline of `EGNNConv` and `GNNConv` (gather, edge MLP, scatter,
  node MLP), in cache-sized chunks of edges.

Building blocks: `contract` (programs of per-sample contractions, `contract.run`), `gemm`
(oneDNN products), `native` (the compiled contraction programs, built on first use;
``native.disabled()`` switches them off).
"""

from symml.nn._kernels import contract, gemm, native
from symml.nn._kernels.bilinear import bilinear_t
from symml.nn._kernels.bilinear_plan import BilinearPlan, bilinear_plan
from symml.nn._kernels.edges import EdgeOptions, Weights, fused_edges
from symml.nn._kernels.linear import LinearKernel, LinearPlan, linear_kernel, linear_plan, linear_t

__all__ = [
    "BilinearPlan",
    "EdgeOptions",
    "LinearKernel",
    "LinearPlan",
    "Weights",
    "bilinear_t",
    "bilinear_plan",
    "contract",
    "fused_edges",
    "gemm",
    "linear_kernel",
    "linear_plan",
    "linear_t",
    "native",
]
