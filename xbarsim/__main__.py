"""``python -m xbarsim``: the same as the ``xbarsim`` command."""

from .cli import entry_point

entry_point()
