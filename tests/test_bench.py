"""``kronconv bench``: every backend timed on the same problem, and computing the same gradient."""

from __future__ import annotations

import json

import pytest

from kronconv.bench import format_report, run_bench
from kronconv.cli import main
from kronconv.torch_reference import torch_available


def test_run_bench_times_every_backend_on_the_same_gradient():
    report = run_bench("digits", batch=3, repeat=2)
    results = report["results"]
    expected = {"sparse", "dense"} | ({"torch"} if torch_available() else set())
    assert set(results) == expected
    for r in results.values():
        assert len(r["times_s"]) == 2
        assert r["min_s"] <= r["median_s"]
        assert r["grad_max_rel_diff_vs_sparse"] < 1e-10
        assert r["vs_dense"] == pytest.approx(r["median_s"] / results["dense"]["median_s"])
    assert report["config"]["threads"] == 1
    assert report["machine"]["blas"]
    text = format_report(report)
    assert text.splitlines()[0].startswith("kronconv bench: digits, batch 3, float64, 1 thread")
    skipped = report["config"]["skipped"]
    assert skipped == ([] if torch_available() else ["torch (not installed)"])
    assert len(text.splitlines()) == 2 + len(results) + len(skipped)


def test_cli_bench_json(capsys):
    assert main(["bench", "--arch", "digits", "--batch", "2", "--repeat", "1", "--dtype",
                 "float32", "--backends", "dense,sparse", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["config"]["dtype"] == "float32"
    assert list(report["results"]) == ["dense", "sparse"]
    assert report["results"]["dense"]["grad_max_rel_diff_vs_sparse"] < 1e-4


@pytest.mark.parametrize(("argv", "message"), [
    (["bench", "--backends", "sparse,gpu"], "--backends: choose among sparse, dense, torch"),
    (["bench", "--arch", "nope"], "--arch: 'nope' is neither a preset"),
    (["bench", "--threads", "0"], "expected a positive integer, got 0"),
])
def test_cli_bench_bad_arguments(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert message in capsys.readouterr().err
