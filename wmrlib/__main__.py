"""``python -m wmrlib``: see :mod:`wmrlib.cli`."""
import sys

from .cli import main

sys.exit(main())
