"""The `aftersales` command line: one module per command group, `main` in `starter.cli.main`."""

from starter.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
