"""`flask faq load`: validate faq/*.yaml, print a summary, warn about sample regional data."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from bot.faq.loader import FaqError, placeholder_problems
from bot.faq.store import load

faq_cli = AppGroup("faq", help="FAQ content commands.")


@faq_cli.command("load")
@click.option("--dir", "directory", type=click.Path(file_okay=False), default=None,
              help="FAQ directory (default: FAQ_DIR or ./faq)")
def load_command(directory):
    """Validate faq/*.yaml and print a summary (exit status 1 when it does not validate)."""
    try:
        cat = load(directory)
    except FaqError as exc:
        raise click.ClickException(str(exc)) from None
    by_prefix: dict[str, int] = {}
    for eid in cat.entries:
        by_prefix[eid.split(".")[0]] = by_prefix.get(eid.split(".")[0], 0) + 1
    detail = ", ".join(f"{k} {v}" for k, v in sorted(by_prefix.items()))
    click.echo(f"{len(cat.entries)} entries, {cat.n_examples} examples ({detail}); "
               f"{len(cat.out_of_scope)} out-of-scope examples; "
               f"{len(cat.region.values)} regional values ({cat.region.region or 'no region'})")
    for line in placeholder_problems(cat.directory):
        click.echo(f"WARNING: {line} (answers leave it out and give the hotlines only; "
                   f"production start-up refuses it)", err=True)
