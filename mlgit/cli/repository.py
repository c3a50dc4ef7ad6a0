"""``ml-git repository ...`` and ``ml-git clone``, with ML-Git's output lines."""

from __future__ import annotations

import pprint
from pathlib import Path

import click

from .. import config as cfg
from ..errors import ConfigError
from ..gitsafe import redact
from ..repository import Repository
from .base import CONFIG_ADVICE, ENTITY_TYPES, STORAGE_TYPES, _repo, cli, find_root, info, warn

GLOBAL = click.option("--global", "-g", "global_", is_flag=True, help="Write the global ~/.mlgitconfig.")


def _not_empty(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not value.strip():
        raise click.BadParameter("Value cannot be empty.", ctx=ctx, param=param)
    return value


@cli.group()
def repository() -> None:
    """Management of this ml-git repository."""


@repository.command("init")
@click.pass_context
def repository_init(ctx: click.Context) -> None:
    """Initialization of this ML-Git repository."""
    cwd = Path(ctx.obj["cwd"])
    if find_root(cwd) is not None or cfg.MLGIT_DIR in cwd.parts:
        info("Admin", "You already are in a ml-git repository")
        if cfg.MLGIT_DIR in cwd.parts:
            raise ConfigError(
                f"{cwd} is inside a {cfg.MLGIT_DIR} folder; run repository init in the project folder"
            )
        return
    repo = Repository.init(cwd)
    info("Admin", f"Initialized empty ml-git repository in {repo.root / cfg.MLGIT_DIR}")


@repository.group("remote")
def remote() -> None:
    """Configure remote ml-git metadata repositories."""


def _remote_commands(et: str) -> None:
    @remote.group(et, help=f"Manage remote ml-git {et} metadata repository.")
    def grp() -> None: ...

    @grp.command("add")
    @click.argument("url")
    @GLOBAL
    @click.pass_context
    def add(ctx: click.Context, url: str, global_: bool) -> None:
        repo = _repo(ctx)
        source = cfg.load_global() if global_ else cfg.load_local(repo.root)
        previous = str((source.get(et) or {}).get("git") or "")
        if global_:
            with repo.global_config():
                repo.remote_add(et, url)
        else:
            repo.remote_add(et, url)
        if previous and previous != url:
            warn(
                "Admin",
                "YOU ALREADY HAS A CONFIGURED REMOTE. All data stored in this repository will be sent to the "
                "new one on the first push.",
            )
            info("Admin", f"Changing remote from [{previous}] to [{url}] for [{et}]")
        else:
            info("Admin", f"Add remote repository [{url}] for [{et}]")
        info("Repository", CONFIG_ADVICE)

    @grp.command("del")
    @GLOBAL
    @click.pass_context
    def delete(ctx: click.Context, global_: bool) -> None:
        repo = _repo(ctx)
        if global_:
            with repo.global_config():
                url = repo.remote_del(et)
        else:
            url = repo.remote_del(et)
        info("Admin", f"Removing remote repository [{url}] from [{et}].")
        info("Repository", CONFIG_ADVICE)


for _et in ENTITY_TYPES:
    _remote_commands(_et)


@remote.group("config")
def remote_config() -> None:
    """Manage remote ML-Git config repository."""


@remote_config.command("add")
@click.argument("url")
@click.pass_context
def remote_config_add(ctx: click.Context, url: str) -> None:
    """Start a git repository at the project root and set its remote."""
    from ..verbs.project_git import config_remote_add

    repo = _repo(ctx)
    created = config_remote_add(repo, url)
    if created:
        info("Metadata Manager", f"Creating new git repository at project root [{repo.root}]")
    info("Repository", f"Adding remote to the initialized project [{url}]")


@repository.group("storage")
def storage() -> None:
    """Storage management for this ml-git repository."""


@storage.command("add")
@click.argument("bucket")
@click.option("--type", "type_", default="s3h", type=click.Choice(STORAGE_TYPES), show_default=True)
@click.option("--credentials", default=None, help="AWS profile name.", callback=_not_empty)
@click.option("--region", default="us-east-1", show_default=True)
@click.option("--endpoint-url", default=None, help="S3 endpoint, or the SSH host (--type=sftph).")
@click.option("--path", default=None, help="Folder used as a bucket (--type=local).", callback=_not_empty)
@click.option("--username", default=None, help="SSH user (--type=sftph).")
@click.option("--private-key", default=None, help="SSH private key file (--type=sftph).")
@click.option("--port", default=None, type=int, help="SSH port (--type=sftph, default 22).")
@GLOBAL
@click.pass_context
def storage_add(
    ctx: click.Context,
    bucket: str,
    type_: str,
    credentials: str | None,
    region: str,
    endpoint_url: str | None,
    path: str | None,
    username: str | None,
    private_key: str | None,
    port: int | None,
    global_: bool,
) -> None:
    repo = _repo(ctx)
    if type_ in ("s3h", "s3") and credentials:
        info("Admin", f"Add storage [{type_}://{bucket}] with creds from profile [{credentials}]")
    else:
        info("Admin", f"Add storage [{type_}://{bucket}]")
    options = {
        "path": path,
        "credentials": credentials,
        "endpoint_url": endpoint_url,
        "region": region,
        "username": username,
        "private_key": private_key,
        "port": port,
    }
    if global_:
        with repo.global_config():
            repo.storage_add(bucket, type_, **options)  # type: ignore[arg-type]
    else:
        repo.storage_add(bucket, type_, **options)  # type: ignore[arg-type]
    info("Admin", CONFIG_ADVICE)


@storage.command("del")
@click.argument("bucket")
@click.option("--type", "type_", default=None, type=click.Choice(STORAGE_TYPES))
@GLOBAL
@click.pass_context
def storage_del(ctx: click.Context, bucket: str, type_: str | None, global_: bool) -> None:
    repo = _repo(ctx)
    source = cfg.load_global() if global_ else cfg.load_local(repo.root)
    schemes = [s for s, sec in (source.get("storages") or {}).items() if bucket in (sec or {})]
    scheme = type_ or (schemes[0] if schemes else "s3h")
    if global_:
        with repo.global_config():
            repo.storage_del(bucket, type_)
    else:
        repo.storage_del(bucket, type_)
    info("Admin", f"Removed storage [{scheme}://{bucket}] from configuration file.")
    info("Admin", CONFIG_ADVICE)


@repository.group("config")
def config_group() -> None:
    """Management of the ML-Git config file."""


@config_group.command("show")
@click.option("--local", "-l", "local", is_flag=True, help="Only the project's .ml-git/config.yaml.")
@GLOBAL
@click.pass_context
def config_show(ctx: click.Context, local: bool, global_: bool) -> None:
    if local and global_:
        raise click.UsageError("Illegal usage: `global` is mutually exclusive with argument `local`.")
    if global_:
        data = cfg.load_global()
    elif local:
        data = cfg.load_local(_repo(ctx).root)
    else:
        data = _repo(ctx).config
    click.echo("config:")
    click.echo(redact(pprint.pformat(data)))  # as ML-Git printed it (pprint, width 80)


@config_group.command("push")
@click.option("-m", "--message", default="Updating config file", show_default=True)
@click.pass_context
def config_push(ctx: click.Context, message: str) -> None:
    """Commit .ml-git/config.yaml in the project's git repository and push it."""
    from ..verbs.project_git import config_push as push

    repo = _repo(ctx)
    config_file = cfg.config_path(repo.root)
    if push(repo, message):
        info("Metadata Manager", f"Commit repo[{repo.root}] --- file[{config_file}]")
        info("Repository", "Pushing config file to remote repository")


@repository.command("update")
@click.pass_context
def repository_update(ctx: click.Context) -> None:
    """Update every initialized entity type's metadata repository."""
    repo = _repo(ctx)
    if not any(repo.metadata(et).exists for et in ENTITY_TYPES):
        raise ConfigError(f"You don't have any metadata initialized (in {repo.root / cfg.MLGIT_DIR})")
    repo.update()
    for et in ENTITY_TYPES:
        if repo.metadata(et).exists:
            info("Metadata Manager", f"Pull [{repo.metadata(et).path}]")


@repository.command("gc")
@click.pass_context
def repository_gc(ctx: click.Context) -> None:
    """Remove local objects and cached files that no index and no unpushed version refers to."""
    repo = _repo(ctx)
    report = repo.gc()
    if not report.types:
        raise ConfigError(f"You don't have any metadata initialized (in {repo.root / cfg.MLGIT_DIR})")
    for et in report.types:
        info("Repository", f"Starting the garbage collector for {et}")
    info(
        "Repository", f"A total of {report.removed} files have been removed from {repo.root / cfg.MLGIT_DIR}"
    )
    info("Repository", f"Total reclaimed space {report.natural_size}.")


@repository.command("graph")
@click.option("--dot", is_flag=True, help="Print the graph in the DOT language instead of writing a file.")
@click.option("--export-path", default=None, callback=_not_empty, help="Folder for the graph file.")
@click.pass_context
def repository_graph(ctx: click.Context, dot: bool, export_path: str | None) -> None:
    """The relations between every version of every entity (lineage), as DOT or an HTML page."""
    from ..verbs.graph import graph_dot, write_graph

    repo = _repo(ctx)
    text = graph_dot(repo)
    if text is None:
        info("MLGit", "No relationships were found for your project entities.")
        return
    if dot and not export_path:
        click.echo(text)
        return
    path = write_graph(text, Path(export_path or repo.root), html_page=not dot)
    info("MLGit", f"The relationship graph was saved in: {path}")


@cli.command("clone")
@click.argument("url")
@click.argument("folder", required=False)
@click.option("--untracked", is_flag=True, help="Does not preserve git repository tracking.")
@click.pass_context
def clone(ctx: click.Context, url: str, folder: str | None, untracked: bool) -> None:
    """Clone a git repository holding a project's .ml-git/config.yaml, and initialize its metadata."""
    from ..verbs.project_git import clone_project

    cwd = Path(ctx.obj["cwd"])
    if find_root(cwd) is not None:
        raise ConfigError(f"You are in initialized ml-git project ({find_root(cwd)}); clone elsewhere")
    target = clone_project(url, cwd, folder, untracked)
    info("Metadata", "Successfully loaded configuration files!")
    click.echo(f"Project cloned into {target}")
