"""The ``kronconv`` command and ``python -m kronconv``: :func:`kronconv.cli.main`, started lightly.

Importing NumPy, SciPy and the library takes about half a second. This module imports none of
them itself, so that a Ctrl-C in that time ends the way it does during the work: one line on
stderr and exit status 130 (``kronconv.cli.INTERRUPTED``), not the interpreter's traceback.
"""

import atexit
import contextlib
import os
import sys
from collections.abc import Sequence

INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> int:
    """Import the command line, then run it (see :func:`kronconv.cli.main`).

    A Ctrl-C ends the process with status 130 whenever it comes: CPython itself turns any exit
    into a death by SIGINT once a KeyboardInterrupt was raised inside a Cython module's
    initialisation (NumPy's and SciPy's, while they load), so after a Ctrl-C the exit handlers
    run here and the process exits with 130 directly.
    """
    try:
        from .cli import main as run
        return run(argv)
    except KeyboardInterrupt:
        print("kronconv: interrupted while starting; nothing was done", file=sys.stderr)
    except SystemExit as exc:
        if exc.code != INTERRUPTED:
            raise
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(INTERRUPTED)


if __name__ == "__main__":
    sys.exit(main())
