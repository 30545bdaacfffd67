"""The `pidse` command line: thin Typer commands over the Python API (app.py; ppl.py and train.py mount on it)."""
from pidse.cli.app import app, main

__all__ = ["app", "main"]
