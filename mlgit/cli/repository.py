"""``ml-git repository ...`` and ``ml-git clone``."""

from __future__ import annotations

import pprint
from pathlib import Path

import click

from ..errors import MLGitError
from ..repository import Repository
from .base import ENTITY_TYPES, _repo, cli


# -- ml-git repository ... ---------------------------------------------------------------------
@cli.group()
def repository() -> None:
    """Project-wide configuration."""


@repository.command("init")
@click.pass_context
def repository_init(ctx: click.Context) -> None:
    repo = Repository.init(ctx.obj["cwd"])
    click.echo(f"Project initialized in {repo.root}")


@repository.group("remote")
def remote() -> None:
    """Metadata remotes per entity type."""


for _et in ENTITY_TYPES:

    def _make(et: str) -> None:
        @remote.group(et, help=f"The {et} metadata remote.")
        def _grp() -> None: ...

        @_grp.command("add")
        @click.argument("url")
        @click.pass_context
        def _add(ctx: click.Context, url: str) -> None:
            _repo(ctx).remote_add(et, url)
            click.echo(f"Add remote repository [{url}] for [{et}]")

    _make(_et)


@repository.group("storage")
def storage() -> None:
    """Storages (buckets) for the data."""


@storage.command("add")
@click.argument("bucket")
@click.option("--type", "type_", default="s3h", type=click.Choice(["s3h", "local"]), show_default=True)
@click.option("--credentials", default=None, help="AWS profile name.")
@click.option("--region", default="us-east-1", show_default=True)
@click.option("--endpoint-url", default=None)
@click.option("--path", default=None, help="Folder used as a bucket (--type=local).")
@click.pass_context
def storage_add(
    ctx: click.Context,
    bucket: str,
    type_: str,
    credentials: str | None,
    region: str,
    endpoint_url: str | None,
    path: str | None,
) -> None:
    _repo(ctx).storage_add(
        bucket, type_, path=path, credentials=credentials, endpoint_url=endpoint_url, region=region
    )
    click.echo(f"Add storage [{type_}://{bucket}]")


@storage.command("del")
@click.argument("bucket")
@click.option("--type", "type_", default=None, type=click.Choice(["s3h", "local"]))
@click.pass_context
def storage_del(ctx: click.Context, bucket: str, type_: str | None) -> None:
    _repo(ctx).storage_del(bucket, type_)
    click.echo(f"Removed storage [{bucket}]")


@repository.group("config")
def config_group() -> None:
    """Show the configuration."""


@config_group.command("show")
@click.pass_context
def config_show(ctx: click.Context) -> None:
    click.echo("config:")
    click.echo(pprint.pformat(_repo(ctx).config, width=100, sort_dicts=True))


@repository.command("update")
@click.pass_context
def repository_update(ctx: click.Context) -> None:
    _repo(ctx).update()
    click.echo("Metadata repositories updated")


@cli.command("clone")
@click.argument("url")
@click.argument("folder", required=False)
@click.pass_context
def clone(ctx: click.Context, url: str, folder: str | None) -> None:
    """Clone a git repository holding a project's .ml-git/config.yaml, and initialize its metadata."""
    import git

    target = Path(ctx.obj["cwd"]) / (folder or Path(url.rstrip("/")).name.removesuffix(".git"))
    try:
        git.Repo.clone_from(url, target)
    except git.GitCommandError as exc:
        raise MLGitError(f"could not clone {url}: {' '.join(str(exc.stderr).split())}") from exc
    repo = Repository(target)
    for et in ENTITY_TYPES:
        if repo.config[et].get("git"):
            repo.entity_init(et)
    click.echo(f"Project cloned into {target}")
