"""Files written atomically (a temporary file beside the target, then ``os.replace``), and the
checks that a file can be read or written before any work starts.

A temporary is named ``.NAME.PID.XXXXXXXX.tmp``, ``PID`` being the writer's process id. A
writer killed mid-write leaves its temporary behind; the next write of the same target removes
the temporaries whose writer is no longer running (on POSIX systems, where that can be asked;
a writer on another machine sharing the directory is taken for dead when its pid is not
running here).
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import BinaryIO

Writer = Callable[[BinaryIO], object]


def _running(pid: int) -> bool:
    """Whether process ``pid`` is running (True when it cannot be told)."""
    if pid == os.getpid() or os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:               # running, as another user
        return True
    except (OverflowError, ValueError):   # no such pid can exist
        return False
    return True


def remove_stale_temporaries(path: str | Path) -> list[Path]:
    """Remove the temporaries of ``path`` left by writers that are no longer running.

    Parameters
    ----------
    path : str or Path
        The target whose temporaries (``.NAME.PID.XXXXXXXX.tmp`` beside it) are looked for.

    Returns
    -------
    list of Path
        The temporaries removed.
    """
    path = Path(path)
    pattern = re.compile(rf"\.{re.escape(path.name)}\.(\d+)\.[a-z0-9_]+\.tmp")
    removed = []
    for candidate in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        match = pattern.fullmatch(candidate.name)
        if match and not _running(int(match[1])):
            with contextlib.suppress(FileNotFoundError):     # another writer removed it
                candidate.unlink()
                removed.append(candidate)
    return removed


class NotWritable(OSError, ValueError):
    """A target that cannot be written, found before writing: a ``ValueError`` as the checks'
    refusals are, and an ``OSError`` as a failed write is."""


def _write_temporary(path: Path, write: Writer) -> str:
    """``write(file)`` on a new temporary beside ``path``; returns the temporary's name."""
    remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp",
                               dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)          # the permissions a plain open() would give
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError):           # a full disk, a quota: named by the target
            raise OSError(exc.errno, f"not written: {exc.strerror or exc}", str(path)) from exc
        raise
    return tmp


def atomic_write_all(writes: Mapping[str | Path, Writer]) -> None:
    """Write several files, each with ``write(file)``: all are written to temporaries first,
    and only when every one succeeded are they moved into place (none is replaced otherwise).

    Parameters
    ----------
    writes : mapping of path to callable
        For each target, a function writing its bytes to a binary file object.

    Raises
    ------
    NotWritable
        Before anything is written, if a target cannot be written (a directory, in a missing
        or unwritable directory), naming it as :func:`check_output_file` does: a ``ValueError``
        and an ``OSError``, as a failed write is (a run that checkpoints reports it so).
    """
    for path in writes:
        try:
            check_output_file(path)
        except ValueError as exc:
            raise NotWritable(f"not written: {exc}") from None
    done: list[tuple[str, Path]] = []
    try:
        for path, write in writes.items():
            done.append((_write_temporary(Path(path), write), Path(path)))
        for tmp, path in done:
            os.replace(tmp, path)
    except BaseException:
        for tmp, _ in done:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        raise


def atomic_write(path: str | Path, write: Writer) -> None:
    """Call ``write(file)`` on a temporary file beside ``path``, then move it into place."""
    atomic_write_all({path: write})


@contextlib.contextmanager
def _reported(path: object) -> Iterator[None]:
    """An ``OSError`` while looking at ``path`` (a directory that may not be searched) as a
    ``ValueError`` naming it."""
    try:
        yield
    except OSError as exc:
        raise ValueError(f"{path}: {exc.strerror or exc}") from None


def _check_parent(path: Path) -> None:
    """Raise ``ValueError`` unless ``path``'s directory exists and may be written into."""
    parent = path.parent
    if not parent.is_dir():
        for ancestor in (*reversed(parent.parents), parent):
            if ancestor.exists() and not ancestor.is_dir():
                raise ValueError(f"{path}: {ancestor} is not a directory")
        raise ValueError(f"{path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"{path}: directory {parent} is not writable")
    try:        # os.access trusts the permission bits, which root (or /proc, a read-only mount) may
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp",
                                     dir=parent)       # named as the writer's own temporaries
    except OSError as exc:
        raise ValueError(f"{path}: no file can be created in directory {parent}: "
                         f"{exc.strerror or exc}") from None
    os.close(fd)
    os.unlink(probe)


def _named(path: str | Path, what: str) -> Path:
    """``path`` as a ``Path``, unless it is empty (which ``Path`` would take for ".")."""
    if not str(path):
        raise ValueError(f"expected a {what} name, got ''")
    return Path(path)


def check_output_file(path: str | Path) -> Path:
    """``path`` as a ``Path`` if a file can be written there, else raise ``ValueError``.

    It may exist, as a regular file that may be written (it is replaced); its directory must
    exist and be writable.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    Path
    """
    path = _named(path, "file")
    with _reported(path):
        if path.is_dir():
            raise ValueError(f"{path} is a directory")
        if path.exists():
            if not path.is_file():
                raise ValueError(f"{path} is not a regular file")
            if not os.access(path, os.W_OK):
                raise ValueError(f"{path} is not writable")
        _check_parent(path)
    return path


def check_output_directory(path: str | Path) -> Path:
    """``path`` as a ``Path`` if it is a writable directory, or can be created as one (its
    parent exists and is writable), else raise ``ValueError``.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    Path
    """
    path = _named(path, "directory")
    with _reported(path):
        if path.is_dir():
            if not os.access(path, os.W_OK | os.X_OK):
                raise ValueError(f"directory {path} is not writable")
        elif path.exists():
            raise ValueError(f"{path} is not a directory")
        else:
            _check_parent(path)
    return path


def check_input_file(path: str | Path) -> Path:
    """``path`` as a ``Path`` if it is a readable file, else raise ``ValueError``.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    Path
    """
    path = _named(path, "file")
    with _reported(path):
        if path.is_dir():
            raise ValueError(f"{path} is a directory")
        if not path.exists():
            raise ValueError(f"{path} does not exist")
        if not os.access(path, os.R_OK):
            raise ValueError(f"{path} is not readable")
    return path
