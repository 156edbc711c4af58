"""``python -m kronconv``: the same as the ``kronconv`` command."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
