"""kronconv: a CNN's value and gradient as the matrix derivation writes them.

Every stage of a convolutional layer is a ``scipy.sparse`` operator (``P_pad``, ``P_phi``,
``P_pool``, ``I ⊗ W``, ``1 ⊗ I``, ``phi^T ⊗ I``), and forward and backward are chains of
sparse products that follow the slides' equations (1)-(9). The conventions page of the
documentation (and the :mod:`kronconv.layout` docstring) pins every shape and index order.
"""

from ._lazy import attach

# Every public name, and the module it comes from, is declared in __init__.pyi; each is imported
# when first used (kronconv/_lazy.py).
__getattr__, __dir__ = attach(__name__, __file__, {"DenseCache": "cache:LayerCache"})
