"""One intra-op thread for the CNN tests: their tensors are tiny, and on a loaded machine a
two-thread parallel region waits milliseconds for its second thread (36 ms instead of 5 µs for a
5×5 conv2d here), which made these tests ten times slower without testing anything more."""

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
