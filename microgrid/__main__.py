"""``python -m microgrid ...``: the same as the `microgrid` command."""

import sys

from .cli import main

sys.exit(main())
