"""``ml-git demo``."""

from __future__ import annotations

from pathlib import Path

import click

from .base import cli


@cli.command("demo")
@click.argument("folder", default="mlgit-demo", required=False)
@click.pass_context
def demo(ctx: click.Context, folder: str) -> None:
    """Version a dataset, labels linked to it and a model with metrics, on local storage; print lineage."""
    from .. import demo as demo_mod

    res = demo_mod.run(Path(ctx.obj["cwd"]) / folder)
    click.echo(f"Workspace: {res.workspace}")
    for v in res.versions:
        click.echo(
            f"  pushed {v.entity_type:<8} {v.tag}  ({v.files} files, {v.size} bytes, {v.uploaded} objects uploaded)"
        )
    click.echo("\nLineage of the model:")
    from ..lineage import tree_lines

    for line in tree_lines(res.lineage):
        click.echo(f"  {line}")
    click.echo("\nMetrics of the model, per version:")
    for tag, metrics in res.metrics.items():
        click.echo(f"  {tag}: " + ", ".join(f"{k}={v:g}" for k, v in sorted(metrics.items())))
    click.echo(f"\nTry: cd {res.workspace} && ml-git models lineage birdnet")
