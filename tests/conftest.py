"""Shared test settings: a deterministic hypothesis profile (CI must not flake)."""

from hypothesis import HealthCheck, settings

settings.register_profile(
    "symml",
    deadline=None,  # first calls fill caches (Cayley tables, intertwiner bases)
    max_examples=25,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("symml")
