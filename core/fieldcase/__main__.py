"""``python -m fieldcase``."""

from .cli import cli

cli()
