"""``python -m bench``: the same as the ``bobench`` command."""

from __future__ import annotations

from bench.cli import main

if __name__ == "__main__":
    main()
