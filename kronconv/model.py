"""Saved models: architecture, theta, scaling, options and the training state, in one ``.npz``.

The file is written atomically (a temporary file beside it, then ``os.replace``), so a run
killed while saving leaves the previous model intact, and read with ``allow_pickle=False``.
Keys: ``meta`` (a 0-d string array holding JSON: ``format_version``, ``kronconv_version``,
``arch`` in the documented schema, ``scaling_divisor``, ``options``, ``state``), ``theta``,
``scaling_mean`` (d, a, b), ``velocity`` for SG, and ``buffer.NAME`` for each of the
optimizer's buffers (Adam's ``m`` and ``v``, simpleNN's subsample ``cycle``, ``best_theta``).
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._files import atomic_write
from ._version import VERSION
from .architecture import Architecture
from .data import Scaling
from .train import TrainState

__all__ = ["FORMAT_VERSION", "Model", "load_model", "save_model"]

FORMAT_VERSION = 2          # 2: the optimizer's buffers, step and best iterate; reads 1 too


@dataclass
class Model:
    """A trained (or training) network with everything needed to predict and to resume."""

    arch: Architecture
    scaling: Scaling
    options: dict[str, Any]
    state: TrainState

    @property
    def theta(self) -> np.ndarray:
        return self.state.theta


def save_model(path: str | Path, model: Model) -> None:
    """Write ``model`` to ``path`` (``.npz``) atomically."""
    st = model.state
    meta = {"format_version": FORMAT_VERSION, "kronconv_version": VERSION,
            "arch": model.arch.to_dict(), "scaling_divisor": model.scaling.divisor,
            "options": model.options,
            "state": {"iteration": st.iteration, "rng_state": st.rng_state, "lam": st.lam,
                      "elapsed": st.elapsed, "stop_reason": st.stop_reason,
                      "history": st.history, "step": st.step,
                      "best_val_accuracy": st.best_val_accuracy}}
    arrays = {"meta": np.array(json.dumps(meta)), "theta": st.theta,
              "scaling_mean": model.scaling.mean,
              **{f"buffer.{name}": value for name, value in st.buffers.items()}}
    if st.velocity is not None:
        arrays["velocity"] = st.velocity
    atomic_write(path, lambda f: np.savez(f, **arrays))


def load_model(path: str | Path) -> Model:
    """Read a model written by :func:`save_model`.

    Raises
    ------
    ValueError
        If the file is missing, truncated, corrupted, or of another format version; the
        message names the file.
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as f:
            meta = json.loads(str(f["meta"]))
            arrays = {k: np.array(f[k]) for k in f.files if k != "meta"}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError,
            json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a readable kronconv model ({exc})") from None
    if meta.get("format_version") not in (1, FORMAT_VERSION):
        raise ValueError(f"{path}: model format version {meta.get('format_version')!r}, "
                         f"this kronconv reads {FORMAT_VERSION}")
    try:
        arch = Architecture.from_dict(meta["arch"])
        s = meta["state"]
        state = TrainState(arrays["theta"], s["iteration"], s["rng_state"], s["lam"],
                           arrays.get("velocity"), s["elapsed"], s["stop_reason"],
                           s["history"], s.get("step", 0), s.get("best_val_accuracy"),
                           {k.removeprefix("buffer."): v for k, v in arrays.items()
                            if k.startswith("buffer.")})
        scaling = Scaling(meta["scaling_divisor"], arrays["scaling_mean"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: incomplete kronconv model ({exc})") from None
    if state.theta.shape != (arch.n_params,):
        raise ValueError(f"{path}: theta has shape {state.theta.shape}, the architecture "
                         f"needs ({arch.n_params},)")
    return Model(arch, scaling, meta["options"], state)
