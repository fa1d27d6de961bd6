"""Shared test settings: a deterministic hypothesis profile (CI must not flake) and a private
cache directory for generated data."""

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "symml",
    deadline=None,  # first calls fill caches (Cayley tables, intertwiner bases)
    max_examples=25,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("symml")


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Generated data (N-body, rotated MNIST) goes to a temporary cache, never the user's."""
    previous = os.environ.get("SYMML_CACHE_DIR")
    os.environ["SYMML_CACHE_DIR"] = str(tmp_path_factory.mktemp("symml-cache"))
    yield
    if previous is None:
        os.environ.pop("SYMML_CACHE_DIR", None)
    else:
        os.environ["SYMML_CACHE_DIR"] = previous
