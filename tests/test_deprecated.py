"""Names that moved keep working for a release, with a DeprecationWarning naming the new home."""

from __future__ import annotations

import importlib
import re

import pytest

MOVED = [
    ("kronconv", "DenseCache", "kronconv.cache", "LayerCache"),
    ("kronconv.layer", "DenseCache", "kronconv.cache", "LayerCache"),
    ("kronconv.dense", "DenseCache", "kronconv.cache", "LayerCache"),
    ("kronconv.dense", "cm_from_cols", "kronconv.layout", "channel_first_from_columns"),
    ("kronconv.dense", "cols_from_cm", "kronconv.layout", "columns_from_channel_first"),
    ("kronconv.dense", "forward_cm", "kronconv.dense", "forward"),
    ("kronconv.dense", "grad_S_cm", "kronconv.dense", "grad_S"),
    ("kronconv.dense", "R_forward_cm", "kronconv.dense", "R_forward"),
    ("kronconv.identities", "numerical_jacobian", "kronconv.testing", "numerical_jacobian"),
    *[("kronconv.network", name, "kronconv.objective_function", name)
      for name in ("accuracy", "network_output", "objective", "objective_and_gradient",
                   "predict")],
    ("kronconv.network", "DENSE_CHUNK_BYTES", "kronconv.cpu_caches", "FALLBACK_BLOCK_BYTES"),
    ("kronconv.objective_function", "DENSE_CHUNK_BYTES", "kronconv.cpu_caches",
     "FALLBACK_BLOCK_BYTES"),
]


@pytest.mark.parametrize(("old_module", "old", "new_module", "new"), MOVED)
def test_moved_name_warns_and_is_the_new_object(old_module, old, new_module, new):
    module = importlib.import_module(old_module)
    message = re.escape(f"{old_module}.{old} is deprecated: use {new_module}.{new}")
    with pytest.warns(DeprecationWarning, match=message):
        obj = getattr(module, old)
    assert obj is getattr(importlib.import_module(new_module), new)


def test_unknown_name_is_an_attribute_error():
    import kronconv.dense

    with pytest.raises(AttributeError, match=r"module 'kronconv\.dense' has no attribute 'nope'"):
        kronconv.dense.nope  # noqa: B018


def test_P_pool_batch_last_warns_and_reorders_P_pool():
    import numpy as np

    import kronconv as kc
    from kronconv.operators import P_pool_batch_last

    shape = kc.LayerShape(a=4, b=4, d=1, d_out=2, h=1, pool="max", pool_size=2)
    sigma_cols = np.random.default_rng(0).normal(size=(shape.n_S, 3))
    with pytest.warns(DeprecationWarning, match="P_pool_batch_last is deprecated"):
        P = P_pool_batch_last(shape, sigma_cols)
    # instance-fastest order: row r*N + i of P is row r of instance i's block of P_pool
    block = kc.P_pool(shape, sigma_cols.reshape(shape.d_out, -1, order="F")).toarray()
    out = (P @ sigma_cols.ravel()).reshape(shape.n_out, 3)
    expected = (block @ sigma_cols.ravel(order="F")).reshape(shape.n_out, 3, order="F")
    np.testing.assert_array_equal(out, expected)
