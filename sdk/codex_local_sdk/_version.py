"""The one version number of the distribution (``codex-local-bridge``); hatchling reads it."""

__version__ = "0.2.0"
