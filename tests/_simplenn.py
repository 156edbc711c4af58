"""simpleNN's prediction, transliterated line by line from its MATLAB code (cnn_predict.m,
cnn/check_data.m, cnn/init_net.m, cnn/predict.m, cnn/feedforward.m, cnn/padding_and_phiZ.m,
cnn/find_index_phiZ.m, cnn/maxpooling.m), for the tests that run without Octave.

It reads a model struct as scipy.io.loadmat returns it and uses only the fields simpleNN's
code reads, in the way that code reads them: MATLAB's column-major reshapes are
``order="F"``, its 1-based indices are kept 1-based until they index an array. Independent of
kronconv: no kronconv function is called.
"""

from __future__ import annotations

import numpy as np


class Model:
    """Field access ``model.name`` on loadmat's 1x1 struct (struct_as_record=True)."""

    def __init__(self, record: np.ndarray):
        self._r = record[0, 0]

    def __getattr__(self, name: str):
        value = self._r[name]
        if name == "net_config":
            return Model(value)
        if value.dtype == object:                             # a cell: {m} is [m - 1]
            return list(value.ravel(order="F"))
        return value.ravel(order="F")                         # x(k) is x[k - 1]


def reshape(M: np.ndarray, *shape: int) -> np.ndarray:
    """MATLAB's reshape (column-major); one size may be -1 for []."""
    return np.reshape(M, shape, order="F")


def find_index_phiZ(a, b, d, h, s):
    # first_channel_idx = gpu([0:h-1]'*d+1) + gpu([0:h-1]*a*d);
    first_channel_idx = (np.arange(h)[:, None] * d + 1) + (np.arange(h)[None, :] * a * d)
    # first_col_idx = first_channel_idx(:) + [0:d-1];
    first_col_idx = first_channel_idx.ravel(order="F")[:, None] + np.arange(d)[None, :]
    a_out = (a - h) // s + 1
    b_out = (b - h) // s + 1
    # column_offset = (gpu([0:a_out-1])' + gpu([0:b_out-1]*a))*s*d;
    column_offset = (np.arange(a_out)[:, None] + np.arange(b_out)[None, :] * a) * s * d
    # idx = column_offset(:)' + first_col_idx(:);
    idx = column_offset.ravel(order="F")[None, :] + first_col_idx.ravel(order="F")[:, None]
    return idx.ravel(order="F")                               # idx = idx(:); 1-based


def check_data(Z, net_config):
    a, b = int(net_config.ht_input[0]), int(net_config.wd_input[0])
    ch = int(net_config.ch_input[0])
    assert Z.shape[1] == ch * a * b
    l = Z.shape[0]                                            # noqa: E741 (simpleNN's name)
    tmp = np.stack([Z[:, d * a * b:(d + 1) * a * b].T.ravel(order="F") for d in range(ch)])
    return reshape(tmp, -1, l)


def padding(model, Z, m, num_data):
    a_in, b_in = int(model.ht_input[m - 1]), int(model.wd_input[m - 1])
    a_pad, b_pad = int(model.ht_pad[m - 1]), int(model.wd_pad[m - 1])
    p = int(model.wd_pad_added[m - 1])
    d = int(model.ch_input[m - 1])
    Z = reshape(Z, d, a_in, b_in, -1)
    output = np.zeros((d, a_pad, b_pad, num_data))
    output[:, p:p + a_in, p:p + b_in, :] = Z
    return output


def padding_and_phiZ(model, idx_phiZ, Z, m, num_data):
    phiZ = padding(model, Z, m, num_data)
    phiZ = reshape(phiZ, -1, num_data)
    phiZ = phiZ[idx_phiZ - 1, :]
    h, d = int(model.wd_filter[m - 1]), int(model.ch_input[m - 1])
    return reshape(phiZ, h * h * d, -1)


def maxpooling(model, idx_phiZ_pool, Zin, m):
    a, b = int(model.ht_conv[m - 1]), int(model.wd_conv[m - 1])
    d = int(model.ch_input[m])                                # ch_input(m+1)
    h = int(model.wd_subimage_pool[m - 1])
    Z = reshape(Zin, d * a * b, -1)
    Z = Z[idx_phiZ_pool - 1, :]
    Z = reshape(Z, h * h, -1)
    Z = Z.max(axis=0)                                         # [Z, max_id] = max(Z);
    return reshape(Z, d, -1)


def feedforward(data, model, idx_phiZ, idx_phiZ_pool):
    num_data = data.shape[1]
    L, LC = int(model.L[0]), int(model.LC[0])
    weight, bias = model.weight, model.bias
    Z = reshape(data, int(model.ch_input[0]), -1)
    for m in range(1, LC + 1):
        phiZ = padding_and_phiZ(model, idx_phiZ[m - 1], Z, m, num_data)
        Z = np.maximum(weight[m - 1] @ phiZ + bias[m - 1], 0)
        if model.wd_subimage_pool[m - 1] > 1:
            Z = maxpooling(model, idx_phiZ_pool[m - 1], Z, m)
    dab = int(model.ch_input[LC] * model.wd_input[LC] * model.ht_input[LC])
    Z = reshape(Z, dab, -1)
    for m in range(LC + 1, L):
        Z = np.maximum(weight[m - 1] @ Z + bias[m - 1], 0)
    return weight[L - 1] @ Z + bias[L - 1]


def cnn_predict(Z: np.ndarray, model_struct: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """simpleNN's predicted labels of the rows ``Z`` (l x abd, check_data's layout), and the
    last layer's outputs (nL x l)."""
    model = Model(model_struct)
    assert str(model._r["float_type"].ravel()[0]) == "double"
    assert not model.gpu_use.any()
    data = check_data(Z, model.net_config)
    idx_phiZ, idx_phiZ_pool = [], []                          # init_net
    for m in range(1, int(model.LC[0]) + 1):
        idx_phiZ.append(find_index_phiZ(int(model.ht_pad[m - 1]), int(model.wd_pad[m - 1]),
                                        int(model.ch_input[m - 1]),
                                        int(model.wd_filter[m - 1]), int(model.strides[m - 1])))
        pool = int(model.wd_subimage_pool[m - 1])
        idx_phiZ_pool.append(find_index_phiZ(int(model.ht_conv[m - 1]),
                                             int(model.wd_conv[m - 1]),
                                             int(model.ch_input[m]), pool, pool))
    outputs = feedforward(data, model, idx_phiZ, idx_phiZ_pool)
    assert outputs.shape[0] == int(model.nL[0])
    results = outputs.argmax(axis=0)                          # [~, results] = max(...)
    return model.labels[results], outputs
