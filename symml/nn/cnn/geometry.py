"""`ConvGeometry`: where a square kernel is applied on the pixel grid, shared by every
convolution layer (group, lifting, steerable) and checked once."""

from __future__ import annotations

from dataclasses import KW_ONLY, InitVar, dataclass, fields

from symml.nn._checks import check_choice, check_positive

PADDING_MODES = ("zeros", "circular")


@dataclass(frozen=True)
class ConvGeometry:
    """Kernel size, stride, padding, dilation and padding mode of a 2-D convolution, as in
    `torch.nn.Conv2d` (square kernels, symmetric padding).

    The output side is ``⌊(H + 2·padding − dilation·(kernel_size − 1) − 1) / stride⌋ + 1``.
    Rotations of the grid commute with the convolution when the output grid is centred (that
    numerator divisible by the stride); translations, exactly with ``padding_mode="circular"``.

    Args:
        kernel_size: side of the square kernel.
        stride, padding, dilation: as in `torch.nn.Conv2d`.
        padding_mode: ``"zeros"`` or ``"circular"`` (the grid as a torus).
        owner: the name errors start with (the layer building the geometry).

    Raises:
        ValueError: a size that is not a positive integer (padding: non-negative), or another
            padding mode.

    Example:
        >>> ConvGeometry(5, padding=2)
        ConvGeometry(kernel_size=5, padding=2)
        >>> ConvGeometry(3, stride=0)
        Traceback (most recent call last):
        ...
        ValueError: ConvGeometry: expected an integer stride >= 1 (got 0)
    """

    kernel_size: int
    stride: int = 1
    padding: int = 0
    dilation: int = 1
    padding_mode: str = "zeros"
    _: KW_ONLY
    owner: InitVar[str] = "ConvGeometry"

    def __post_init__(self, owner: str) -> None:
        check_positive(self.kernel_size, owner, "kernel_size")
        check_positive(self.stride, owner, "stride")
        check_positive(self.padding, owner, "padding", minimum=0)
        check_positive(self.dilation, owner, "dilation")
        check_choice(self.padding_mode, PADDING_MODES, owner, "padding_mode")

    @classmethod
    def of(cls, kernel_size: int | ConvGeometry, padding: int, owner: str) -> ConvGeometry:
        """The geometry a layer's ``kernel_size`` and ``padding`` arguments describe: an integer
        kernel side with ``padding``, or a whole `ConvGeometry` (padding then stays inside it)."""
        if not isinstance(kernel_size, ConvGeometry):
            return cls(kernel_size, padding=padding, owner=owner)
        if padding:
            raise ValueError(
                f"{owner}: expected the padding inside the ConvGeometry (got padding={padding!r} "
                f"beside {kernel_size}); write ConvGeometry(..., padding={padding!r})"
            )
        return kernel_size

    def describe(self) -> str:
        """``"kernel_size=5, padding=2"``: the kernel size and every option off its default."""
        shown = [f"kernel_size={self.kernel_size}"]
        for f in fields(self)[1:]:
            value = getattr(self, f.name)
            if value != f.default:
                shown.append(f"{f.name}={value!r}")
        return ", ".join(shown)

    def __repr__(self) -> str:
        return f"ConvGeometry({self.describe()})"
