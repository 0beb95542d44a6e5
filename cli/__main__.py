"""``python -m cli``: the same as the ``orchard`` console script."""

from cli.main import run

run()
