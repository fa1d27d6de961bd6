"""Named architectures and their plain baselines, one registry (layer L3).

Example:
    >>> from symml.models import info, names
    >>> "emlp" in names() and info("emlp").baseline
    'mlp'
"""

from symml.models.registry import (
    ModelInfo,
    build,
    info,
    names,
    parameter_count,
    register,
    unregister,
)

__all__ = ["ModelInfo", "build", "info", "names", "parameter_count", "register", "unregister"]
