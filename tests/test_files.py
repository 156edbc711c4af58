"""Atomic writes: all or nothing, stale temporaries of killed writers removed; the checks that
a file can be read or written."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import kronconv
from kronconv._files import (
    atomic_write,
    atomic_write_all,
    check_input_file,
    check_output_directory,
    check_output_file,
    remove_stale_temporaries,
)

ROOT = Path(kronconv.__file__).resolve().parent.parent

# a writer that stops midway, with its temporary written in part, until it is killed
STALLED_WRITER = """
import sys, time
from kronconv._files import atomic_write

def write(f):
    f.write(b"half a file")
    f.flush()
    print("writing", flush=True)
    time.sleep(120)

atomic_write(sys.argv[1], write)
"""


def _stalled_writer(target: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", STALLED_WRITER, str(target)],
                            stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout.readline() == "writing\n"
    return proc


def _temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_atomic_write_removes_the_temporary_of_a_killed_writer(tmp_path):
    target = tmp_path / "m.npz"
    proc = _stalled_writer(target)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    left = _temporaries(tmp_path)
    assert len(left) == 1
    assert left[0].startswith(f".m.npz.{proc.pid}.")                # named by its writer
    assert not target.exists()
    atomic_write(target, lambda f: f.write(b"whole"))
    assert _temporaries(tmp_path) == []
    assert target.read_bytes() == b"whole"


def test_atomic_write_keeps_the_temporaries_of_running_writers_and_other_files(tmp_path):
    target = tmp_path / "m.npz"
    proc = _stalled_writer(target)
    try:
        running = _temporaries(tmp_path)
        mine = tmp_path / f".m.npz.{os.getpid()}.abc123.tmp"      # this process's
        mine.write_bytes(b"")
        others = [tmp_path / ".m.npz.abc.tmp", tmp_path / ".other.npz.1.abc.tmp"]
        for path in others:
            path.write_bytes(b"")
        atomic_write(target, lambda f: f.write(b"whole"))
        assert _temporaries(tmp_path) == sorted([*running, mine.name, *(p.name for p in others)])
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    assert remove_stale_temporaries(target) == [tmp_path / running[0]]


def test_atomic_write_all_replaces_nothing_unless_every_file_was_written(tmp_path):
    (tmp_path / "a").write_bytes(b"old a")

    def broken(f):
        f.write(b"part")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        atomic_write_all({tmp_path / "a": lambda f: f.write(b"new a"), tmp_path / "b": broken})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]
    assert (tmp_path / "a").read_bytes() == b"old a"
    atomic_write_all({tmp_path / "a": lambda f: f.write(b"new a"),
                      tmp_path / "b": lambda f: f.write(b"new b")})
    assert [(tmp_path / n).read_bytes() for n in "ab"] == [b"new a", b"new b"]


@pytest.mark.parametrize(("check", "path", "message"), [
    (check_output_file, "", "expected a file name, got ''"),
    (check_output_file, "{dir}", "{dir} is a directory"),
    (check_output_file, "{file}/x", "{file}/x: {file} is not a directory"),
    (check_output_file, "{file}/a/b/x", "{file}/a/b/x: {file} is not a directory"),
    (check_output_file, "{tmp}/no/x", "{tmp}/no/x: directory {tmp}/no does not exist"),
    (check_output_file, "/dev/null", "/dev/null is not a regular file"),
    (check_output_directory, "", "expected a directory name, got ''"),
    (check_output_directory, "{file}", "{file} is not a directory"),
    (check_output_directory, "{tmp}/no/d", "{tmp}/no/d: directory {tmp}/no does not exist"),
    (check_input_file, "", "expected a file name, got ''"),
    (check_input_file, "{dir}", "{dir} is a directory"),
    (check_input_file, "{tmp}/none", "{tmp}/none does not exist"),
    (check_input_file, "{file}/x", "{file}/x does not exist"),
])
def test_check_file_refuses_with_the_path(check, path, message, tmp_path):
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_text("x")
    fields = {"tmp": tmp_path, "dir": tmp_path / "dir", "file": tmp_path / "file"}
    with pytest.raises(ValueError, match=re.escape(message.format(**fields))) as info:
        check(path.format(**fields))
    assert str(info.value) == message.format(**fields)


def test_check_file_accepts_what_can_be_read_or_written(tmp_path):
    (tmp_path / "file").write_text("x")
    assert check_output_file(tmp_path / "file") == tmp_path / "file"        # replaced
    assert check_output_file(tmp_path / "new") == tmp_path / "new"
    assert check_output_directory(tmp_path) == tmp_path
    assert check_output_directory(tmp_path / "new") == tmp_path / "new"
    assert check_input_file(tmp_path / "file") == tmp_path / "file"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="root may read and write anywhere, whatever the permissions say")
def test_check_file_refuses_what_the_permissions_forbid(tmp_path):
    (tmp_path / "locked").write_text("x")
    (tmp_path / "locked").chmod(0o000)
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro").chmod(0o500)
    try:
        with pytest.raises(ValueError, match="locked is not writable"):
            check_output_file(tmp_path / "locked")
        with pytest.raises(ValueError, match="locked is not readable"):
            check_input_file(tmp_path / "locked")
        with pytest.raises(ValueError, match=r"directory .*ro is not writable"):
            check_output_file(tmp_path / "ro" / "x")
        with pytest.raises(ValueError, match=r"directory .*ro is not writable"):
            check_output_directory(tmp_path / "ro")
    finally:
        (tmp_path / "ro").chmod(0o700)


def test_check_file_follows_what_os_access_reports(tmp_path, monkeypatch):
    """The test above for root too: the permissions as ``os.access`` reports them."""
    (tmp_path / "locked").write_text("x")
    (tmp_path / "ro").mkdir()
    denied = {(tmp_path / "locked", os.W_OK), (tmp_path / "locked", os.R_OK)}
    access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: access(path, mode) and not (
        (Path(path), mode) in denied or (Path(path) == tmp_path / "ro" and mode & os.W_OK)))
    with pytest.raises(ValueError, match="locked is not writable"):
        check_output_file(tmp_path / "locked")
    with pytest.raises(ValueError, match="locked is not readable"):
        check_input_file(tmp_path / "locked")
    with pytest.raises(ValueError, match=r"directory .*ro is not writable"):
        check_output_file(tmp_path / "ro" / "x")
    with pytest.raises(ValueError, match=r"directory .*ro is not writable"):
        check_output_directory(tmp_path / "ro")


@pytest.mark.parametrize(("target", "fragment"), [
    ("sub", "sub is a directory"), ("missing/m.npz", "directory {tmp}/missing does not exist"),
    ("sub/file/m.npz", "{tmp}/sub/file is not a directory")])
def test_atomic_write_checks_every_target_before_writing_any(tmp_path, target, fragment):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "file").write_text("x")
    first = tmp_path / "first.npz"
    with pytest.raises(ValueError, match=re.escape(fragment.format(tmp=tmp_path))) as raised:
        atomic_write_all({first: lambda f: f.write(b"1"),
                          tmp_path / target: lambda f: f.write(b"2")})
    # an OSError too: a run's checkpoint that finds its directory gone reports it as a failed
    # write (the iterate saved before survives), not as an internal error
    assert isinstance(raised.value, OSError)
    assert not first.exists()                        # nothing written, no temporary left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sub"]


def test_a_full_disk_is_named_by_the_target_and_leaves_nothing(tmp_path):
    import errno

    def full(file):
        file.write(b"partial")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    (tmp_path / "old.npz").write_bytes(b"old")
    with pytest.raises(OSError, match="No space left") as raised:
        atomic_write_all({tmp_path / "new.npz": lambda f: f.write(b"new"),
                          tmp_path / "old.npz": full})
    assert (raised.value.errno, raised.value.filename) == (errno.ENOSPC, str(tmp_path / "old.npz"))
    assert raised.value.strerror == "not written: No space left on device"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.npz"]   # no temporary, no new.npz
    assert (tmp_path / "old.npz").read_bytes() == b"old"
