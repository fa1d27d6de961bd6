"""`symml.nn._gemm`: the oneDNN route computes the same products as torch's."""

from __future__ import annotations

import pytest
import torch

import symml.nn._gemm as gemm


@pytest.mark.parametrize("threshold", [0, 1 << 60], ids=["onednn", "torch"])
def test_products_match_torch(monkeypatch, threshold: int) -> None:
    monkeypatch.setattr(gemm, "_MIN_MACS", threshold)
    torch.manual_seed(0)
    a, w, b = torch.randn(300, 40), torch.randn(70, 40), torch.randn(70)
    add = torch.randn(300, 70)
    expected = a @ w.t()
    torch.testing.assert_close(gemm.linear(a, w), expected)
    torch.testing.assert_close(gemm.linear(a, w, b), expected + b)
    torch.testing.assert_close(gemm.linear(a, w, b, add), expected + b + add)
    torch.testing.assert_close(gemm.linear(a[:, :20], w[:, ::2]), a[:, :20] @ w[:, ::2].t())
    torch.testing.assert_close(gemm.mm(a, w.t()), expected)  # transposed second operand
    torch.testing.assert_close(gemm.mm(a.t().contiguous().t(), w.t()), expected)
    torch.testing.assert_close(gemm.mm(a, w.t().contiguous()), expected)  # row-major b
    out = add.clone()
    gemm.addmm_(out[:, 10:30], a, w.t().contiguous()[:, 10:30])  # into a strided view
    torch.testing.assert_close(out[:, 10:30], add[:, 10:30] + expected[:, 10:30])
    torch.testing.assert_close(out[:, :10], add[:, :10])


def test_float64_and_strided_inputs_take_the_ordinary_path() -> None:
    torch.manual_seed(0)
    a, w = torch.randn(300, 40, dtype=torch.float64), torch.randn(70, 80, dtype=torch.float64)
    torch.testing.assert_close(gemm.linear(a, w[:, ::2]), a @ w[:, ::2].t())
