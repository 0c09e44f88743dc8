"""``python -m microgrid ...``: the same as the `microgrid` command."""

from .cli import main

raise SystemExit(main())
