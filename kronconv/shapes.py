"""The shape of one convolutional layer and every size derived from it.

The sizes follow :ref:`conventions-layer` of the conventions page.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._validate import Array, InstanceOf, check_int

__all__ = ["BIAS", "CONV_OUTPUT", "IMAGES", "LAYER_OUTPUT", "PHI", "POOL_KINDS", "SHAPE",
           "WEIGHTS", "LayerShape"]

POOL_KINDS = ("max", "average", "none")

# The integer constraints, declared once: field -> smallest allowed value. The error
# messages and the bad-input tests are both generated from this table.
INT_MINIMUM = {
    "a": 1, "b": 1, "d": 1, "d_out": 1, "h": 1,
    "stride": 1, "padding": 0, "pool_size": 1, "pool_stride": 1,
}


@dataclass(frozen=True)
class LayerShape:
    """Immutable description of one convolutional layer m: conv -> sigma -> pool.

    Parameters
    ----------
    a, b, d : int
        Height (rows), width (columns) and channels of the layer's input ``Z^m``.
    d_out : int
        Output channels d^{m+1} (rows of ``W``).
    h : int
        Filter size (h x h).
    stride : int, default 1
        Convolution stride s.
    padding : int, default 0
        Zero padding p on each side.
    pool : {"none", "max", "average"}, default "none"
        Pooling kind.
    pool_size : int, default 2
        Pooling window h_pool (ignored, and stored as 1, when ``pool="none"``).
    pool_stride : int, optional
        Pooling stride s_pool; defaults to ``pool_size`` (non-overlapping windows).

    Attributes
    ----------
    a_pad, b_pad : int
        ``a + 2p``, ``b + 2p``.
    a_conv, b_conv : int
        ``floor((a_pad - h) / s) + 1`` and likewise.
    a_out, b_out : int
        a^{m+1}, b^{m+1}: ``floor((a_conv - h_pool) / s_pool) + 1`` and likewise.

    Raises
    ------
    TypeError
        If a size is not an integer, or ``pool`` is not a string.
    ValueError
        If a size is out of range, ``h`` exceeds the padded image, or the pooling window
        exceeds the convolution output. The message names the argument.

    Examples
    --------
    >>> s = LayerShape(a=32, b=32, d=3, d_out=32, h=5, padding=2, pool="max", pool_size=2)
    >>> (s.a_pad, s.a_conv, s.a_out), s.W_shape
    ((36, 32, 16), (32, 75))
    """

    a: int
    b: int
    d: int
    d_out: int
    h: int
    stride: int = 1
    padding: int = 0
    pool: str = "none"
    pool_size: int = 2
    pool_stride: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.pool, str) or self.pool not in POOL_KINDS:
            raise ValueError(f"pool must be one of {POOL_KINDS}, got {self.pool!r}")
        if self.pool == "none":
            object.__setattr__(self, "pool_size", 1)
            object.__setattr__(self, "pool_stride", 1)
        elif self.pool_stride is None:
            object.__setattr__(self, "pool_stride", self.pool_size)
        for name, minimum in INT_MINIMUM.items():
            object.__setattr__(self, name, check_int(getattr(self, name), name, minimum))
        for side, padded in (("a", self.a_pad), ("b", self.b_pad)):
            if self.h > padded:
                raise ValueError(
                    f"h must be <= {side}_pad = {side} + 2*padding = {padded}, got h={self.h}"
                )
        for side, conv in (("a", self.a_conv), ("b", self.b_conv)):
            if self.pool_size > conv:
                raise ValueError(
                    f"pool_size must be <= {side}_conv = {conv} (the convolution output), "
                    f"got pool_size={self.pool_size}: the pooled output would be empty"
                )

    # -- derived sizes (the conventions page) -----------------------------------------------
    @property
    def a_pad(self) -> int:
        return self.a + 2 * self.padding

    @property
    def b_pad(self) -> int:
        return self.b + 2 * self.padding

    @property
    def a_conv(self) -> int:
        return (self.a_pad - self.h) // self.stride + 1

    @property
    def b_conv(self) -> int:
        return (self.b_pad - self.h) // self.stride + 1

    @property
    def a_out(self) -> int:
        return (self.a_conv - self.pool_size) // self.pool_stride + 1

    @property
    def b_out(self) -> int:
        return (self.b_conv - self.pool_size) // self.pool_stride + 1

    # -- lengths of the vectors the operators act on -----------------------------------------
    @property
    def n_in(self) -> int:
        """``|vec(Z^m)| = d*a*b`` for one instance."""
        return self.d * self.a * self.b

    @property
    def n_pad(self) -> int:
        """``|vec(pad(Z))| = d*a_pad*b_pad``."""
        return self.d * self.a_pad * self.b_pad

    @property
    def n_windows(self) -> int:
        """``a_conv*b_conv``: the number of convolution windows (columns of phi)."""
        return self.a_conv * self.b_conv

    @property
    def n_phi(self) -> int:
        """``|vec(phi(pad(Z)))| = h*h*d*a_conv*b_conv``."""
        return self.h * self.h * self.d * self.n_windows

    @property
    def n_S(self) -> int:
        """``|vec(S)| = d_out*a_conv*b_conv``."""
        return self.d_out * self.n_windows

    @property
    def n_out(self) -> int:
        """``|vec(Z^{m+1})| = d_out*a_out*b_out``."""
        return self.d_out * self.a_out * self.b_out

    @property
    def W_shape(self) -> tuple[int, int]:
        """Shape of ``W^m``: ``(d_out, h*h*d)``."""
        return (self.d_out, self.h * self.h * self.d)


#: The constraints of the arguments of one layer's public functions: its shape, and its
#: arrays by their symbolic shapes (the numbers are checked against the LayerShape).
SHAPE = InstanceOf(LayerShape, "a LayerShape")
IMAGES = Array("(d, a*b*N)")                         # Z
WEIGHTS = Array("(d_out, h*h*d)")                    # W
BIAS = Array("(d_out,)")                             # b
PHI = Array("(h*h*d, a_conv*b_conv*N)")              # phi(pad(Z))
CONV_OUTPUT = Array("(d_out, a_conv*b_conv*N)")      # S, sigma(S), dS
LAYER_OUTPUT = Array("(d_out, a_out*b_out*N)")       # Z^{m+1}, dZ_next
