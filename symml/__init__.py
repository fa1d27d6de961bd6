"""symml: equivariant and geometric deep learning in PyTorch.

Layers: `symml.groups` → `symml.reps` → `symml.nn` → (`symml.models`, `symml.data`) →
`symml.training` → `symml.cli`; `symml.testing` holds the equivariance harness.
"""

__version__ = "0.1.0"
