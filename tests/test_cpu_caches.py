"""The CPU's cache sizes from sysfs (a fake one here), os.sysconf, the fallback and the override,
and the dense blocks sized from them."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kronconv import Architecture, objective_function
from kronconv import cpu_caches as cc
from kronconv.objective_function import block_size


def fake_sysfs(root, caches):
    """index0, index1, ... holding (level, type, size) as Linux writes them."""
    root.mkdir(parents=True, exist_ok=True)
    for k, (level, kind, size) in enumerate(caches):
        index = root / f"index{k}"
        index.mkdir()
        (index / "level").write_text(f"{level}\n")
        (index / "type").write_text(f"{kind}\n")
        (index / "size").write_text(f"{size}\n")
    return root


XEON = [(1, "Data", "48K"), (1, "Instruction", "32K"), (2, "Unified", "2048K"),
        (3, "Unified", "307200K")]


def test_cache_sizes_reads_data_and_unified_caches_from_sysfs(tmp_path):
    root = fake_sysfs(tmp_path, XEON)
    assert cc.cache_sizes(root) == {1: 48 * 2**10, 2: 2 * 2**20, 3: 300 * 2**20}


def test_cache_sizes_skips_unreadable_entries_and_falls_back_to_sysconf(tmp_path, monkeypatch):
    root = fake_sysfs(tmp_path / "a", [(2, "Unified", "garbage"), (1, "Instruction", "32K")])
    (tmp_path / "a" / "index9").mkdir()                                # no files in it
    monkeypatch.setattr(cc.os, "sysconf", lambda name: {"SC_LEVEL2_CACHE_SIZE": 1 << 20}.get(
        name, 0))
    assert cc.cache_sizes(root) == {2: 1 << 20}


def test_block_bytes_follows_the_l2_cache_then_the_fallback(tmp_path, monkeypatch):
    monkeypatch.delenv("KRONCONV_BLOCK_BYTES", raising=False)
    assert cc.block_bytes(fake_sysfs(tmp_path / "x", XEON)) == cc.L2_MULTIPLE * 2 * 2**20
    monkeypatch.setattr(cc.os, "sysconf", lambda name: -1)
    (tmp_path / "empty").mkdir()
    assert cc.block_bytes(tmp_path / "empty") == cc.FALLBACK_BLOCK_BYTES


def test_block_bytes_override_and_its_errors(tmp_path, monkeypatch):
    root = fake_sysfs(tmp_path, XEON)
    monkeypatch.setenv("KRONCONV_BLOCK_BYTES", "3e6")
    assert cc.block_bytes(root) == 3_000_000
    for bad in ("1.5", "0", "-8", "lots", "inf"):
        monkeypatch.setenv("KRONCONV_BLOCK_BYTES", bad)
        with pytest.raises(ValueError, match="KRONCONV_BLOCK_BYTES must be a whole number"):
            cc.block_bytes(root)


def test_dense_blocks_hold_the_instances_whose_largest_phi_fits(monkeypatch):
    monkeypatch.setattr(objective_function, "machine_cores", lambda: 1)
    arch = Architecture.preset("cifar10-3layer")
    phi = max(s.n_phi for s in arch.conv_shapes)                     # 75 * 32 * 32 entries
    monkeypatch.setenv("KRONCONV_BLOCK_BYTES", str(5 * phi * 8 + 7))
    assert block_size(arch, np.dtype("float64"), "dense", 128) == 5
    assert block_size(arch, np.dtype("float32"), "dense", 128) == 10
    assert block_size(arch, np.dtype("float64"), "dense", 3) == 3
    monkeypatch.setenv("KRONCONV_BLOCK_BYTES", "1")
    assert block_size(arch, np.dtype("float64"), "dense", 128) == 1
    assert block_size(arch, np.dtype("float64"), "sparse", 128) == 32     # not the sparse chain


@pytest.mark.parametrize("cores", [1, 2, 3, 8, 64])
@pytest.mark.parametrize("N", [1, 2, 5, 17, 32, 100, 128])
def test_dense_blocks_are_evened_out_over_the_cores(monkeypatch, cores, N):
    # no block above the cache's 13 instances nor below a quarter of it, and the busiest
    # core never slower than with blocks of 13: rounds x block at most that of blocks of 13
    monkeypatch.setattr(objective_function, "machine_cores", lambda: cores)
    arch = Architecture.preset("cifar10-3layer")
    phi = max(s.n_phi for s in arch.conv_shapes)
    monkeypatch.setenv("KRONCONV_BLOCK_BYTES", str(13 * phi * 8))
    size = block_size(arch, np.dtype("float64"), "dense", N)
    assert min(N, 4) <= size <= 13
    rounds = math.ceil(math.ceil(N / size) / cores)
    assert rounds * size <= math.ceil(math.ceil(N / 13) / cores) * min(13, N)


@pytest.mark.parametrize(("N", "cores", "size"), [(32, 2, 8), (32, 1, 11), (128, 2, 13),
                                                   (100, 8, 13), (5, 8, 4), (1, 2, 1),
                                                   (32, 64, 4)])
def test_block_sizes_of_common_batches(monkeypatch, N, cores, size):
    # 32 instances on two cores: 4 blocks of 8, not 13 + 13 + 6 (two rounds of 13); on 64
    # cores never below a quarter of the cache's 13
    monkeypatch.setattr(objective_function, "machine_cores", lambda: cores)
    arch = Architecture.preset("cifar10-3layer")
    phi = max(s.n_phi for s in arch.conv_shapes)
    monkeypatch.setenv("KRONCONV_BLOCK_BYTES", str(13 * phi * 8))
    assert block_size(arch, np.dtype("float64"), "dense", N) == size


@pytest.mark.parametrize("cores", [1, 2, 64])
def test_sparse_blocks_do_not_depend_on_the_machine(monkeypatch, cores):
    monkeypatch.setattr(objective_function, "machine_cores", lambda: cores)
    arch = Architecture.preset("cifar10-3layer")
    for N, size in ((1, 1), (4, 4), (32, 32), (100, 32)):
        assert block_size(arch, np.dtype("float64"), "sparse", N) == size


def test_block_size_needs_an_instance():
    with pytest.raises(ValueError, match="N must be >= 1"):
        block_size(Architecture.preset("digits"), np.dtype("float64"), "dense", 0)
