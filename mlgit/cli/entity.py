"""``ml-git datasets|labels|models ...``: the entity commands, with ML-Git's output lines."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import yaml

from ..errors import EntityNotFound, InvalidName
from . import entity_more
from .base import ENTITY_TYPES, HELP, STORAGE_TYPES, _progress, _repo, cli, info, not_empty

SINGULAR = {"datasets": "Dataset", "labels": "Labels", "models": "Model"}


def _fsck_after(ctx: click.Context, et: str) -> None:
    """``--fsck``: as ML-Git, an integrity check after the command."""
    res = _repo(ctx).fsck(et)
    info("Repository", f"fsck: {res.total} corrupted file(s) found, {len(res.fixed)} fixed")


def _entity_group(et: str) -> click.Group:
    grp = click.Group(et, help=f"Management of {et} within this ml-git repository.")

    def command(name: str, **kw: Any) -> Callable[[Callable[..., Any]], click.Command]:
        if name in HELP:
            kw.setdefault("help", HELP[name])
        return grp.command(name, **kw)

    @command("init")
    @click.pass_context
    def init(ctx: click.Context) -> None:
        """Clone the metadata repository of its remote (add the remote first)."""
        repo = _repo(ctx)
        info(
            "Metadata Manager",
            f"Metadata init [{repo.config[et].get('git') or ''}] @ [{repo.metadata(et).path}]",
        )
        repo.entity_init(et, require_remote=True)

    @command("create")
    @click.argument("name")
    @click.option("--categories", required=True, help="Comma-separated categories.", callback=not_empty)
    @click.option("--mutability", required=True, type=click.Choice(["strict", "flexible", "mutable"]))
    @click.option("--storage-type", default="s3h", type=click.Choice(STORAGE_TYPES), show_default=True)
    @click.option("--bucket-name", default=None, callback=not_empty)
    @click.option("--version", default=1, type=int, show_default=True)
    @click.option("--entity-dir", default=None, callback=not_empty)
    @click.option(
        "--import", "import_dir", default=None, callback=not_empty, help="Copy this folder into data/."
    )
    @click.option("--import-url", default=None, callback=not_empty, help="Google Drive URL (not supported).")
    @click.option("--credentials-path", default=None, callback=not_empty, help="With --import-url only.")
    @click.option("--unzip", is_flag=True, help="Unzip the .zip files of data/ in place.")
    @click.pass_context
    def create(
        ctx: click.Context,
        name: str,
        categories: str,
        mutability: str,
        storage_type: str,
        bucket_name: str | None,
        version: int,
        entity_dir: str | None,
        import_dir: str | None,
        import_url: str | None,
        credentials_path: str | None,
        unzip: bool,
    ) -> None:
        if import_dir and import_url:
            raise click.UsageError("The argument `import` is mutually exclusive with argument `import_url`.")
        if credentials_path and not import_url:
            raise click.UsageError("The option `credentials-path` is required if `import-url` is used.")
        if import_url:
            raise InvalidName(
                f"--import-url: Google Drive imports are not supported ({import_url}); download the files "
                "and use --import=FOLDER"
            )
        repo = _repo(ctx)
        if import_dir is not None and not Path(import_dir).is_dir():
            raise EntityNotFound(f"--import: expected a folder, found none at {import_dir}")
        path = repo.create(
            et, name, categories, mutability, storage_type, bucket_name, entity_dir or "", version
        )
        from ..verbs.create_extras import copy_in, unzip_all

        if import_dir is not None:
            copy_in(Path(import_dir), path / "data")
        if unzip:
            info("MLGit", "Checking for files that need to be unzipped.")
            info("MLGit", f"Total unzipped files: {unzip_all(path / 'data')}")
        info("MLGit", f"{SINGULAR[et]} artifact created.")

    @command("status")
    @click.argument("name")
    @click.argument("status_directory", required=False, default="")
    @click.option("--full", is_flag=True, help="List every file (this CLI always does).")
    @click.pass_context
    def status(ctx: click.Context, name: str, status_directory: str, full: bool) -> None:
        st = _repo(ctx).status(et, name)
        if status_directory:
            folder = status_directory.strip("/")
            if folder.startswith("..") or folder.startswith("/"):
                raise InvalidName("The directory informed is invalid.")

            def keep(items: list[str]) -> list[str]:
                return [i for i in items if i == folder or i.startswith(folder + "/")]
        else:

            def keep(items: list[str]) -> list[str]:
                return items

        from ..verbs.history import unpublished_commits

        info("Repository", f"{et}: status of ml-git index for [{name}]")
        pending = unpublished_commits(_repo(ctx), et)  # ML-Git 2.9.9's first lines
        if pending:
            click.echo(f"Your {name} has {pending} commit{'' if pending == 1 else 's'} to be published.")
            click.echo(f'  (use "ml-git {et} push {name}" to publish your local commits)')
        else:
            click.echo(f"Your {name} has no commits to be published.")
        click.echo("Changes to be committed")
        for label, items in (("new file", st.new), ("modified", st.modified), ("deleted", st.deleted)):
            for item in keep(items):
                click.echo(f"    {label}:   {item}")
        if keep(st.missing):
            click.echo("\nDeleted files (run add to stage)")
            for item in keep(st.missing):
                click.echo(f"    deleted:   {item}")
        click.echo("\nuntracked files")
        for item in keep(st.untracked):
            click.echo(f"    {item}")
        click.echo("\ncorrupted files")
        for item in keep(st.corrupted):
            click.echo(f"    {item}")

    @command("add")
    @click.argument("name")
    @click.argument("file_path", nargs=-1)
    @click.option("--bumpversion", is_flag=True, help="Increment the spec's version.")
    @click.option("--fsck", "run_fsck", is_flag=True, help="Run fsck after the command.")
    @click.option(
        "--metrics-file", default=None, callback=not_empty, help="CSV: a line of names, a line of values."
    )
    @click.option("--metric", nargs=2, multiple=True, metavar="NAME VALUE")
    @click.pass_context
    def add(
        ctx: click.Context,
        name: str,
        file_path: tuple[str, ...],
        bumpversion: bool,
        run_fsck: bool,
        metrics_file: str | None,
        metric: tuple[tuple[str, str], ...],
    ) -> None:
        if et != "models" and (metric or metrics_file is not None):
            raise click.UsageError(
                f"no such option: {'--metric' if metric else '--metrics-file'} ({et} carry no metrics)"
            )
        repo = _repo(ctx)
        first = (
            file_path and f"{name}.spec" in repo.status(et, name).untracked
        )  # nothing staged nor versioned
        res = repo.add(
            et,
            name,
            bumpversion=bumpversion,
            metrics=dict(metric) or None,
            metrics_file=metrics_file,
            paths=list(file_path) or None,
        )
        info("Repository", f"{et} adding path [{res.path}] to ml-git index")  # after: a refusal is one line
        if first:
            info("Repository", f"File {name}.spec has been automatically added to staged files.")
        if run_fsck:
            _fsck_after(ctx, et)
        click.echo(f"Added {res.files} file(s) of {et} {name} (version {res.version}) to the index")

    @command("commit")
    @click.argument("name")
    @click.option("--version", default=None, type=int, help="Set the version number.")
    @click.option(
        "--dataset", default=None, callback=not_empty, help="A checked-out dataset (name) or a tag."
    )
    @click.option("--labels", default=None, callback=not_empty, help="Checked-out labels (name) or a tag.")
    @click.option("-m", "--message", default=None)
    @click.option("--fsck", "run_fsck", is_flag=True, help="Run fsck after the command.")
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
        run_fsck: bool,
        auto_bump: bool,
    ) -> None:
        repo = _repo(ctx)
        res = repo.commit(
            et, name, message=message, version=version, dataset=dataset, labels=labels, auto_bump=auto_bump
        )
        if run_fsck:
            _fsck_after(ctx, et)
        for kind, link in (("datasets", res.dataset), ("labels", res.labels)):
            if link is not None:
                info("Metadata", f"Associate {kind} [{link.tag.split('__')[-2]}]-[{link.tag}] to the {et}.")
        folder = Path(res.path).relative_to(repo.root / et).as_posix()
        info("Metadata Manager", f"Commit repo[{repo.metadata(et).path}] --- file[{folder}]")
        note = "" if res.created else " (already committed)"
        click.echo(f"Committed {et} {name} version {res.version}: tag {res.tag} ({res.sha}){note}")

    @command("push")
    @click.argument("name")
    @click.option("--retry", default=2, type=click.IntRange(0), help="Accepted (every object is retried).")
    @click.option("--clearonfail", is_flag=True, help="Accepted (objects already sent are kept; see README).")
    @click.option("--fail-limit", default=None, type=int, help="Stop after this many failed objects.")
    @click.pass_context
    def push(ctx: click.Context, name: str, retry: int, clearonfail: bool, fail_limit: int | None) -> None:
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
    @click.option("--retry", default=2, type=click.IntRange(0), help="Accepted (every object is retried).")
    @click.option("--full", is_flag=True, help="Accepted (the summary line names every count).")
    @click.option(
        "-d", "--with-dataset", is_flag=True, hidden=et == "datasets", help="Also the linked dataset."
    )
    @click.option("-l", "--with-labels", is_flag=True, hidden=et != "models", help="Also the linked labels.")
    @click.option("--sample-type", default=None, type=click.Choice(["group", "range", "random"]))
    @click.option(
        "--sampling",
        default="1:1000",
        show_default=True,
        help="group: AMOUNT:GROUP_SIZE, range: START:STOP[:STEP], random: AMOUNT:FREQUENCY.",
    )
    @click.option("--seed", default="1", show_default=True, help="Seed of the group and random samples.")
    @click.option(
        "--fetch",
        is_flag=True,
        help="Ask the metadata remote first: a name means the remote's latest version.",
    )
    @click.pass_context
    def checkout(
        ctx: click.Context,
        ref: str,
        version: int | None,
        bare: bool,
        force: bool,
        fail_limit: int | None,
        retry: int,
        full: bool,
        with_dataset: bool,
        with_labels: bool,
        sample_type: str | None,
        sampling: str,
        seed: str,
        fetch: bool,
    ) -> None:
        if (with_dataset and et == "datasets") or (with_labels and et != "models"):
            raise click.UsageError(
                f"--with-{'dataset' if with_dataset else 'labels'} is not an option of {et} checkout"
            )
        repo = _repo(ctx)
        sample = {sample_type: sampling, "seed": seed} if sample_type else None
        with _progress() as progress:
            res = repo.checkout(
                et,
                ref,
                version=version,
                bare=bare,
                force=force,
                progress=progress,
                fail_limit=fail_limit,
                sample=sample,
                fetch=fetch,
            )
        info("Metadata", f"Performing checkout in tag {res.tag}")
        if bare:
            info("Local Repository", "Checkout in bare mode done.")
        click.echo(
            f"Checked out {res.tag} into {res.path}: {res.files} file(s), {res.downloaded} object(s) downloaded"
        )
        related = [("datasets", res.dataset, with_dataset), ("labels", res.labels, with_labels)]
        for kind, link, wanted in related:
            if not wanted:
                continue
            if link is None:
                click.echo(f"WARNING - Repository: the {kind} does not exist for related download.", err=True)
                continue
            info("Repository", f"Initializing related {kind} download")
            with _progress() as progress:
                sub = repo.checkout(
                    kind, link.tag, bare=bare, force=force, progress=progress, fail_limit=fail_limit
                )
            click.echo(
                f"Checked out {sub.tag} into {sub.path}: {sub.files} file(s), {sub.downloaded} object(s) downloaded"
            )
            if kind == "labels" and with_dataset and sub.dataset is not None and res.dataset is None:
                sub2 = repo.checkout("datasets", sub.dataset.tag, bare=bare, force=force)
                click.echo(f"Checked out {sub2.tag} into {sub2.path}: {sub2.files} file(s)")

    @command("update")
    @click.pass_context
    def update(ctx: click.Context) -> None:
        repo = _repo(ctx)
        repo.update(et, require_remote=True)
        info("Metadata Manager", f"Pull [{repo.metadata(et).path}]")

    @command("list")
    @click.pass_context
    def list_(ctx: click.Context) -> None:
        repo = _repo(ctx)
        if not repo.metadata(et).exists:
            raise EntityNotFound(f"The {et} doesn't have been initialized. Run: ml-git {et} init")
        lines = _tree(repo.entities(et))
        if not lines:
            info("MLGit", "You don't have any entity being managed.")
            return
        click.echo(f"ML {et}")
        for line in lines:
            click.echo(line)
        click.echo("")

    tag_grp = click.Group("tag", help="Management of tags for this entity.")
    grp.add_command(tag_grp)

    @tag_grp.command("list")
    @click.argument("name")
    @click.pass_context
    def tag_list(ctx: click.Context, name: str) -> None:
        for tag in _repo(ctx).tags(et, name):
            click.echo(tag)

    @tag_grp.command("add")
    @click.argument("name")
    @click.argument("tag")
    @click.pass_context
    def tag_add(ctx: click.Context, name: str, tag: str) -> None:
        """Associate a tag of your own to the checked-out version."""
        _repo(ctx).tag_add(et, name, tag)
        info("Repository", "Create Tag Successfull")

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
        body = _repo(ctx).show(et, name)
        click.echo(f"-- {et} : {name} --")
        click.echo(
            yaml.safe_dump(body, default_flow_style=False, sort_keys=True)
        )  # + a blank line, as ML-Git

    @command("unlock")
    @click.argument("name")
    @click.argument("file")
    @click.pass_context
    def unlock(ctx: click.Context, name: str, file: str) -> None:
        path = _repo(ctx).unlock(et, name, file)
        info("Repository", f"The permissions for {path} have been changed.")

    @command("lineage")
    @click.argument("ref")
    @click.pass_context
    def lineage(ctx: click.Context, ref: str) -> None:
        """The versions this version came from (dataset, labels), recursively."""
        from ..lineage import tree_lines

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
    _grp = _entity_group(_et)
    entity_more.register(_grp, _et)
    cli.add_command(_grp)
