"""``python -m codex_bridge.cli``: the ``codex-bridge`` command line."""

from . import main

if __name__ == "__main__":
    raise SystemExit(main())
