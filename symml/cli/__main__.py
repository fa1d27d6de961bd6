"""``python -m symml.cli``: the ``symml`` command (torchrun relaunches `symml run` this way)."""

from symml.cli import main

main()
