"""``python -m counterram`` runs the command line."""

from .cli import app

app()
