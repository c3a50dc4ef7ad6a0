"""``ml-git`` / ``mlgit``: the commands of the ML-Git how-to, word for word. Thin: calls Repository only."""

from __future__ import annotations

import logging
import pprint
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import yaml

from . import __version__
from .errors import MLGitError, NotARepository
from .gitsafe import redact
from .repository import Repository
from .transfer import Progress

ENTITY_TYPES = ("datasets", "labels", "models")


def _project_root(start: Path) -> Path:
    for folder in (start, *start.parents):
        if (folder / ".ml-git" / "config.yaml").is_file():
            return folder
    raise NotARepository(
        f"expected an ML-Git project in {start} or a parent folder (no .ml-git/config.yaml); run: ml-git repository init"
    )


def _repo(ctx: click.Context) -> Repository:
    return Repository(_project_root(Path(ctx.obj["cwd"])))


@contextmanager
def _progress() -> Iterator[Progress | None]:
    """tqdm bars on a terminal; silent otherwise."""
    if not sys.stderr.isatty():
        yield None
        return
    from tqdm import tqdm

    bars: dict[str, Any] = {}

    def update(phase: str, done: int, total: int) -> None:
        bar = bars.get(phase)
        if bar is None or bar.total != total:
            if bar is not None:
                bar.close()
            bar = bars[phase] = tqdm(total=total, desc=phase, unit="obj", leave=False, file=sys.stderr)
        bar.update(done - bar.n)

    try:
        yield update
    finally:
        for bar in bars.values():
            bar.close()


class _Group(click.Group):
    """Turns our errors into one line on stderr (the traceback only with --verbose)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MLGitError as exc:
            _fail(ctx, exc, 1)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:  # an unexpected failure: still one line, detail with --verbose
            _fail(ctx, exc, 2, prefix=f"internal error ({type(exc).__name__}): ")


def _fail(ctx: click.Context, exc: BaseException, code: int, prefix: str = "") -> None:
    verbose = (ctx.obj or {}).get("verbose")
    if verbose:
        click.echo(redact("".join(traceback.format_exception(exc))).rstrip(), err=True)
    click.echo(redact(f"ERROR - {prefix}{exc}"), err=True)
    ctx.exit(code)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--verbose", is_flag=True, help="Show debug logs and tracebacks.")
@click.option(
    "-C", "cwd", default=".", type=click.Path(file_okay=False), help="Run as if started in this folder."
)
@click.version_option(__version__, prog_name="ml-git")
@click.pass_context
def cli(ctx: click.Context, verbose: bool, cwd: str) -> None:
    """Version ML datasets, labels and models (ML-Git compatible)."""
    ctx.ensure_object(dict)
    ctx.obj.update(verbose=verbose, cwd=str(Path(cwd).resolve()))
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING, format="%(levelname)s - %(name)s: %(message)s"
    )


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
            click.echo(f"Add remote repository [{redact(url)}] for [{et}]")

    _make(_et)


@repository.group("storage")
def storage() -> None:
    """Storages (buckets) for the data."""


@storage.command("add")
@click.argument("bucket")
@click.option(
    "--type",
    "type_",
    default="s3h",
    type=click.Choice(["s3h", "local", "sftph", "azureblobh"]),
    show_default=True,
)
@click.option("--credentials", default=None, help="AWS profile name.")
@click.option("--region", default="us-east-1", show_default=True)
@click.option("--endpoint-url", default=None, help="S3 endpoint, or the SSH host (--type=sftph).")
@click.option("--path", default=None, help="Folder used as a bucket (--type=local).")
@click.option("--username", default=None, help="SSH user (--type=sftph).")
@click.option("--private-key", default=None, help="SSH private key file (--type=sftph).")
@click.option("--port", default=None, type=int, help="SSH port (--type=sftph, default 22).")
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
) -> None:
    _repo(ctx).storage_add(
        bucket,
        type_,
        path=path,
        credentials=credentials,
        endpoint_url=endpoint_url,
        region=region,
        username=username,
        private_key=private_key,
        port=port,
    )
    click.echo(f"Add storage [{type_}://{bucket}]")


@storage.command("del")
@click.argument("bucket")
@click.option("--type", "type_", default=None, type=click.Choice(["s3h", "local", "sftph", "azureblobh"]))
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
    click.echo(redact(pprint.pformat(_repo(ctx).config, width=100, sort_dicts=True)))


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
    from .clone import clone_project, default_folder

    target = Path(ctx.obj["cwd"]) / (folder or default_folder(url))
    clone_project(url, target)
    click.echo(f"Project cloned into {target}")


# -- ml-git datasets|labels|models ... ----------------------------------------------------------
def _entity_group(et: str) -> click.Group:
    grp = click.Group(et, help=f"Manage {et}.")

    def command(name: str, **kw: Any) -> Callable[[Callable[..., Any]], click.Command]:
        return grp.command(name, **kw)

    @command("init")
    @click.pass_context
    def init(ctx: click.Context) -> None:
        """Clone (or start) the metadata repository."""
        _repo(ctx).entity_init(et)
        click.echo(f"Successfully loaded configuration files for {et}")

    @command("create")
    @click.argument("name")
    @click.option("--categories", required=True, help="Comma-separated categories.")
    @click.option("--mutability", required=True, type=click.Choice(["strict", "flexible", "mutable"]))
    @click.option(
        "--storage-type",
        default="s3h",
        type=click.Choice(["s3h", "local", "sftph", "azureblobh"]),
        show_default=True,
    )
    @click.option("--bucket-name", default=None)
    @click.option("--version", default=1, type=int, show_default=True)
    @click.option("--entity-dir", default="")
    @click.pass_context
    def create(
        ctx: click.Context,
        name: str,
        categories: str,
        mutability: str,
        storage_type: str,
        bucket_name: str | None,
        version: int,
        entity_dir: str,
    ) -> None:
        path = _repo(ctx).create(
            et, name, categories, mutability, storage_type, bucket_name, entity_dir, version
        )
        click.echo(f"Project Created: {path}")

    @command("status")
    @click.argument("name")
    @click.pass_context
    def status(ctx: click.Context, name: str) -> None:
        st = _repo(ctx).status(et, name)
        click.echo(f"INFO - Repository: {et}: status of ml-git index for [{name}]")
        click.echo("Changes to be committed")
        for label, items in (("new file", st.new), ("modified", st.modified), ("deleted", st.deleted)):
            for item in items:
                click.echo(f"    {label}:   {item}")
        if st.missing:
            click.echo("\nDeleted files (run add to stage)")
            for item in st.missing:
                click.echo(f"    deleted:   {item}")
        click.echo("\nuntracked files")
        for item in st.untracked:
            click.echo(f"    {item}")
        click.echo("\ncorrupted files")
        for item in st.corrupted:
            click.echo(f"    {item}")

    @command("add")
    @click.argument("name")
    @click.option("--bumpversion", is_flag=True, help="Increment the spec's version.")
    @click.option(
        "--metrics-file", default=None, help="CSV: names on line 1, numbers on line 2 (checked by add)."
    )
    @click.option("--metric", nargs=2, multiple=True, metavar="NAME VALUE")
    @click.pass_context
    def add(
        ctx: click.Context,
        name: str,
        bumpversion: bool,
        metrics_file: str | None,
        metric: tuple[tuple[str, str], ...],
    ) -> None:
        res = _repo(ctx).add(
            et, name, bumpversion=bumpversion, metrics=dict(metric) or None, metrics_file=metrics_file
        )
        click.echo(f"Added {res.files} file(s) of {et} {name} (version {res.version}) to the index")

    @command("commit")
    @click.argument("name")
    @click.option("--version", default=None, type=int, help="Set the version number.")
    @click.option("--dataset", default=None, help="Link a checked-out dataset (name) or a dataset tag.")
    @click.option("--labels", default=None, help="Link checked-out labels (name) or a labels tag.")
    @click.option("-m", "--message", default=None)
    @click.option(
        "--auto-bump", is_flag=True, help="Take the next free version if another worker took this one."
    )
    @click.pass_context
    def commit(
        ctx: click.Context,
        name: str,
        version: int | None,
        dataset: str | None,
        labels: str | None,
        message: str | None,
        auto_bump: bool,
    ) -> None:
        res = _repo(ctx).commit(
            et, name, message=message, version=version, dataset=dataset, labels=labels, auto_bump=auto_bump
        )
        note = "" if res.created else " (already committed)"
        click.echo(f"Committed {et} {name} version {res.version}: tag {res.tag} ({res.sha}){note}")

    @command("push")
    @click.argument("name")
    @click.option("--fail-limit", default=None, type=int, help="Stop after this many failed objects.")
    @click.pass_context
    def push(ctx: click.Context, name: str, fail_limit: int | None) -> None:
        with _progress() as progress:
            res = _repo(ctx).push(et, name, progress=progress, fail_limit=fail_limit)
        click.echo(
            f"Pushed {et} {name} {res.tag}: {res.uploaded} object(s) uploaded, {res.skipped} already in storage"
        )

    @command("checkout")
    @click.argument("ref")
    @click.option("--version", default=None, type=int)
    @click.option("--bare", is_flag=True, help="Metadata only, no data.")
    @click.option("--force", is_flag=True, help="Overwrite local changes.")
    @click.option("--fail-limit", default=None, type=int)
    @click.option(
        "--fetch",
        is_flag=True,
        help="Ask the metadata remote first: a name means the remote's latest version.",
    )
    @click.option("--sample-type", default=None, type=click.Choice(["group", "range", "random"]))
    @click.option(
        "--sampling",
        default="1:1000",
        show_default=True,
        help="group: AMOUNT:GROUP_SIZE, range: START:STOP[:STEP], random: AMOUNT:FREQUENCY.",
    )
    @click.option("--seed", default="1", show_default=True, help="Seed of the group and random samples.")
    @click.pass_context
    def checkout(
        ctx: click.Context,
        ref: str,
        version: int | None,
        bare: bool,
        force: bool,
        fail_limit: int | None,
        fetch: bool,
        sample_type: str | None,
        sampling: str,
        seed: str,
    ) -> None:
        sample = {sample_type: sampling, "seed": seed} if sample_type else None
        with _progress() as progress:
            res = _repo(ctx).checkout(
                et,
                ref,
                version=version,
                bare=bare,
                force=force,
                progress=progress,
                fail_limit=fail_limit,
                fetch=fetch,
                sample=sample,
            )
        click.echo(
            f"Checked out {res.tag} into {res.path}: {res.files} file(s), {res.downloaded} object(s) downloaded"
        )

    @command("update")
    @click.pass_context
    def update(ctx: click.Context) -> None:
        _repo(ctx).update(et)
        click.echo(f"{et} metadata updated")

    @command("list")
    @click.pass_context
    def list_(ctx: click.Context) -> None:
        click.echo(f"ML {et.rstrip('s') if et != 'labels' else et}")
        for line in _tree(_repo(ctx).entities(et)):
            click.echo(line)

    tag_grp = click.Group("tag", help="Version tags.")
    grp.add_command(tag_grp)

    @tag_grp.command("list")
    @click.argument("name")
    @click.pass_context
    def tag_list(ctx: click.Context, name: str) -> None:
        for tag in _repo(ctx).tags(et, name):
            click.echo(tag)

    @command("branch")
    @click.argument("name")
    @click.pass_context
    def branch(ctx: click.Context, name: str) -> None:
        head = _repo(ctx).branch(et, name)
        click.echo(repr(head) if head else f"{et} {name}: no version checked out")

    @command("show")
    @click.argument("name")
    @click.pass_context
    def show(ctx: click.Context, name: str) -> None:
        click.echo(f"-- {et.rstrip('s') if et != 'labels' else et} : {name} --")
        click.echo(
            yaml.safe_dump(_repo(ctx).show(et, name), default_flow_style=False, sort_keys=True).rstrip()
        )

    @command("log")
    @click.argument("name")
    @click.pass_context
    def log_(ctx: click.Context, name: str) -> None:
        click.echo(_repo(ctx).log(et, name))

    @command("fsck")
    @click.option("--no-fix", is_flag=True, help="Only report.")
    @click.pass_context
    def fsck(ctx: click.Context, no_fix: bool) -> None:
        res = _repo(ctx).fsck(et, fix=not no_fix)
        click.echo(f"INFO - HashFS: starting integrity check on [.ml-git/{et}/objects/hashfs]")
        click.echo(f"INFO - HashFS: starting integrity check on [.ml-git/{et}/cache/hashfs]")
        click.echo(f"[{len(res.corrupted_objects)}] corrupted file(s) in Local Repository")
        click.echo(f"[{len(res.corrupted_index)}] corrupted file(s) in Index")
        click.echo(f"[{len(res.corrupted_workspace)}] corrupted file(s) in Workspace")
        click.echo(f"Total of corrupted files: {res.total}")
        if res.fixed or res.unfixable:
            click.echo(f"Fixed: {len(res.fixed)}; could not fix: {len(res.unfixable)}")
        if ctx.obj["verbose"]:
            for item in res.corrupted_objects + res.corrupted_index + res.corrupted_workspace:
                click.echo(f"    {item}")
            for item in res.unfixable:
                click.echo(f"    not fixed: {item}")
        elif res.total:
            click.echo(
                "INFO - Repository: For more information about the corrupted files you can run the command with the --verbose option."
            )

    @command("remote-fsck")
    @click.argument("name")
    @click.option(
        "--thorough", is_flag=True, help="Also download every bucket object and verify it against its CID."
    )
    @click.option("--no-fix", is_flag=True, help="Only report.")
    @click.pass_context
    def remote_fsck(ctx: click.Context, name: str, thorough: bool, no_fix: bool) -> None:
        res = _repo(ctx).remote_fsck(et, name, thorough=thorough, fix=not no_fix)
        click.echo(
            f"INFO - remote-fsck: {res.objects_checked} object(s) of {len(res.versions)} version(s) "
            f"of {et} {name} checked in {', '.join(res.storages) or 'no storage'}"
        )
        click.echo(f"[{len(res.missing)}] missing object(s) in the storage")
        if thorough:
            click.echo(f"[{len(res.corrupted)}] corrupted object(s) in the storage")
        if res.fixed or res.unfixable:
            click.echo(f"Fixed: {len(res.fixed)}; could not fix: {len(res.unfixable)}")
        if ctx.obj["verbose"]:
            for item in res.missing + res.corrupted:
                click.echo(f"    {item}")
            for item in res.unfixable:
                click.echo(f"    not fixed: {item}")
        if res.unfixable or (no_fix and res.total):  # something is missing and was left so: not a success
            ctx.exit(1)

    @command("unlock")
    @click.argument("name")
    @click.argument("file")
    @click.pass_context
    def unlock(ctx: click.Context, name: str, file: str) -> None:
        path = _repo(ctx).unlock(et, name, file)
        click.echo(f"The permissions for {path} have been changed.")

    @command("metrics")
    @click.argument("name")
    @click.pass_context
    def metrics(ctx: click.Context, name: str) -> None:
        table = _repo(ctx).metrics(et, name)
        names = sorted({k for m in table.values() for k in m})
        rows = [["tag", *names]] + [
            [tag, *(f"{m[k]:g}" if k in m else "-" for k in names)] for tag, m in table.items()
        ]
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for row in rows:
            click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())

    @command("lineage")
    @click.argument("ref")
    @click.pass_context
    def lineage(ctx: click.Context, ref: str) -> None:
        """The versions this version came from (dataset, labels), recursively."""
        from .lineage import tree_lines

        for line in tree_lines(_repo(ctx).lineage(et, ref)):
            click.echo(line)

    return grp


def _tree(paths: list[str]) -> list[str]:
    lines: list[str] = []
    seen: set[tuple[str, ...]] = set()
    for path in paths:
        parts = tuple(path.split("/"))
        for depth in range(len(parts)):
            key = parts[: depth + 1]
            if key in seen:
                continue
            seen.add(key)
            lines.append("|   " * depth + "|-- " + parts[depth])
    return lines


for _et in ENTITY_TYPES:
    cli.add_command(_entity_group(_et))


@cli.command("demo")
@click.argument("folder", default="mlgit-demo", required=False)
@click.pass_context
def demo(ctx: click.Context, folder: str) -> None:
    """Version a dataset, labels linked to it and a model with metrics, on local storage; print lineage."""
    from . import demo as demo_mod

    res = demo_mod.run(Path(ctx.obj["cwd"]) / folder)
    click.echo(f"Workspace: {res.workspace}")
    for v in res.versions:
        click.echo(
            f"  pushed {v.entity_type:<8} {v.tag}  ({v.files} files, {v.size} bytes, {v.uploaded} objects uploaded)"
        )
    click.echo("\nLineage of the model:")
    from .lineage import tree_lines

    for line in tree_lines(res.lineage):
        click.echo(f"  {line}")
    click.echo("\nMetrics of the model, per version:")
    for tag, metrics in res.metrics.items():
        click.echo(f"  {tag}: " + ", ".join(f"{k}={v:g}" for k, v in sorted(metrics.items())))
    click.echo(f"\nTry: cd {res.workspace} && ml-git models lineage birdnet")


def main(argv: list[str] | None = None) -> None:
    """The ``ml-git`` program. ``--verbose`` may come anywhere, as in ML-Git (``ml-git datasets fsck --verbose``)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if "--verbose" in args[1:]:
        args.remove("--verbose")
        args.insert(0, "--verbose")
    cli.main(args=args, prog_name="ml-git")


if __name__ == "__main__":  # pragma: no cover
    main()
