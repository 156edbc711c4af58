"""The per-stage profiler: every stage called as often as the passes call it, exclusive times
that add up to the run's time, and the backends left as they were."""

from __future__ import annotations

import numpy as np
import pytest

from kronconv import Architecture, dense, init_params, sparse
from kronconv.activations import Activation
from kronconv.cli import main
from kronconv.profiler import NETWORK, STAGES, UNATTRIBUTED, format_profile, profile_stages


def _problem(preset, N, seed=0):
    arch = Architecture.preset(preset)
    rng = np.random.default_rng(seed)
    a, b, d = arch.input
    return (arch, init_params(arch, seed), rng.standard_normal((d, a * b * N)),
            rng.integers(0, arch.n_classes, size=N))


@pytest.mark.parametrize("backend", ["sparse", "dense"])
def test_every_stage_is_called_once_per_block_and_layer(backend):
    arch, theta, Z, y = _problem("digits", 6)
    profile = profile_stages(arch, theta, Z, y, backend, repeat=1, chunk_size=2)   # 3 blocks
    calls = profile["calls"]
    for m in (1, 2):
        for stage in ("pad", "im2col", "grad_S", "grad_W", "grad_b"):
            assert calls[m, STAGES[stage]] == 3, (m, stage)
    assert (1, STAGES["col2im"]) not in calls           # the images' gradient is not needed
    assert calls[2, STAGES["col2im"]] == calls[2, STAGES["grad_Z"]] == 3
    assert calls[1, "sigma"] == calls[2, "sigma"] == 3
    assert calls[NETWORK, "loss"] == 3
    assert calls[NETWORK, "fully-connected layers"] == 2 * 3 * 2     # forward + backward


def test_the_exclusive_times_add_up_to_the_run():
    arch, theta, Z, y = _problem("cifar10-3layer", 4)
    profile = profile_stages(arch, theta, Z, y, "dense", repeat=1)
    stages = profile["stages"]
    assert all(t >= 0 for t in stages.values())
    attributed = sum(t for k, t in stages.items() if k != (NETWORK, UNATTRIBUTED))
    assert attributed + stages[NETWORK, UNATTRIBUTED] == pytest.approx(profile["total_s"])
    assert attributed <= profile["total_s"]
    table = format_profile(profile).splitlines()
    assert table[0].split()[-5:] == ["2", "layer", "3", "network", "total"]
    assert table[-1].split()[0] == "sum"
    assert float(table[-1].split()[-1]) == pytest.approx(1e3 * profile["total_s"], abs=0.05)


def test_exclusive_times_on_a_clock_that_ticks_once_per_reading(monkeypatch):
    # every reading of the profiler's clock advances it by 1: a stage that calls no other
    # stage takes exactly 1 per call, one that calls k others 1 + k (its children's readings
    # are theirs), and the run takes 1 + 2 readings per stage call
    from types import SimpleNamespace

    from kronconv import profiler

    ticks = iter(range(10**9))
    monkeypatch.setattr(profiler, "time", SimpleNamespace(perf_counter=lambda: next(ticks)))
    arch, theta, Z, y = _problem("digits", 2)
    profile = profile_stages(arch, theta, Z, y, "dense", repeat=1)
    stages, calls = profile["stages"], profile["calls"]
    for leaf in ("pad: P_pad", "(5) dS 1", "loss"):
        for key in [k for k in calls if k[1] == leaf]:
            assert stages[key] == calls[key], key
    # dense (9) calls col2im and P_pad^T: 1 + 2 per call
    for m in (2,):
        assert stages[m, "(9) W^T dS"] == 3 * calls[m, "(9) W^T dS"]
    assert profile["total_s"] == 1 + 2 * sum(calls.values())


def test_profiling_leaves_the_backends_as_they_were():
    before = {(module, name): getattr(module, name) for module in (sparse, dense)
              for name in STAGES if hasattr(module, name)}
    call, derivative = Activation.__call__, Activation.derivative
    arch, theta, Z, y = _problem("digits", 2)
    for backend in ("sparse", "dense"):
        profile_stages(arch, theta, Z, y, backend, repeat=1)
    assert all(getattr(module, name) is fn for (module, name), fn in before.items())
    assert (Activation.__call__, Activation.derivative) == (call, derivative)


def test_bench_profile_prints_a_table_per_backend(capsys):
    assert main(["bench", "--profile", "--arch", "digits", "--batch", "2", "--repeat", "1",
                 "--backends", "sparse,dense,torch"]) == 0
    out, err = capsys.readouterr()
    assert out.count("stage (") == 2
    assert "stage (sparse, ms)" in out
    assert "stage (dense, ms)" in out
    assert "(1) dS phi^T" in out
    assert "skipped: torch (--profile times kronconv's backends only)" in err


@pytest.mark.parametrize(("args", "message"), [
    (["--threads", "2"], "--threads: --profile times every stage on one thread"),
    (["--backends", "torch"], "--backends: --profile times kronconv's backends")])
def test_bench_profile_refuses_what_it_would_ignore(capsys, args, message):
    with pytest.raises(SystemExit) as exited:
        main(["bench", "--profile", "--arch", "digits", "--batch", "2", *args])
    assert exited.value.code == 2
    assert message in capsys.readouterr().err
