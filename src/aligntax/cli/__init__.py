"""The ``aligntax`` command line. Each command lives in its own module and registers on ``app``."""

from __future__ import annotations

import sys

import typer

from aligntax import __version__
from aligntax.errors import AligntaxError

app = typer.Typer(
    name="aligntax",
    help="Measure, shape and prove what alignment content in SFT data does to a language model.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"aligntax {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """Exit codes: 0 ok, 1 internal error, 2 usage, 3 bad input, 4 bad policy/config, 5 conservation violated."""


ENGINE_OPTION = typer.Option("local", "--engine", help="local (streaming, this machine's cores) or ray (Ray Data).")
RAY_ADDRESS_OPTION = typer.Option(None, "--ray-address", help="Ray cluster to join (e.g. auto, or head:6379); "
                                  "default: $RAY_ADDRESS, else start a local Ray.")


def engine_from_options(engine: str, ray_address: str | None):
    """The engine named by ``--engine`` / ``--ray-address`` (a usage error when they do not fit)."""
    from aligntax.engines import get_engine

    try:
        return get_engine(engine, ray_address)
    except (KeyError, ValueError) as exc:
        raise typer.BadParameter(str(exc.args[0]), param_hint="--engine") from None


COMMAND_MODULES = ("inspect_cmd", "audit_cmd", "dedup_cmd", "contamination_cmd", "clean_cmd", "variants_cmd",
                   "model_cmd", "eval_cmd", "train_cmd", "ablate_cmd", "rmcheck_cmd")


def _register_commands() -> None:
    """Import the command modules for their ``@app.command`` side effects (one entry per module)."""
    import importlib

    for module in COMMAND_MODULES:
        importlib.import_module(f"aligntax.cli.{module}")


def main() -> None:
    _register_commands()
    try:
        app()
    except AligntaxError as exc:
        from rich.console import Console

        Console(stderr=True).print(f"[bold red]error:[/] {exc}")
        sys.exit(exc.exit_code)
