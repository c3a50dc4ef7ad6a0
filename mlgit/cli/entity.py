"""``ml-git datasets|labels|models ...``: the entity commands, with ML-Git's output lines."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import yaml

from ..errors import EntityNotFound, InvalidName
from .base import ENTITY_TYPES, STORAGE_TYPES, _progress, _repo, cli, info

SINGULAR = {"datasets": "Dataset", "labels": "Labels", "models": "Model"}


def not_empty(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """ML-Git's NotEmptyString: ``--opt=`` (or blanks) is refused before anything runs."""
    values = value if isinstance(value, tuple) else (value,)
    if any(isinstance(v, str) and not v.strip() for v in values):
        raise click.BadParameter("Value cannot be empty.", ctx=ctx, param=param)
    return value


def _fsck_after(ctx: click.Context, et: str) -> None:
    """``--fsck``: as ML-Git, an integrity check after the command."""
    res = _repo(ctx).fsck(et)
    info("Repository", f"fsck: {res.total} corrupted file(s) found, {len(res.fixed)} fixed")


def _entity_group(et: str) -> click.Group:
    grp = click.Group(et, help=f"Management of {et} within this ml-git repository.")

    def command(name: str, **kw: Any) -> Callable[[Callable[..., Any]], click.Command]:
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

    @command("fetch")
    @click.argument("ref")
    @click.option("--version", default=None, type=int)
    @click.option("--retry", default=2, type=click.IntRange(0), help="Accepted (every object is retried).")
    @click.option("--sample-type", default=None, type=click.Choice(["group", "range", "random"]))
    @click.option("--sampling", default="1:1000", show_default=True, help="As checkout's.")
    @click.option("--seed", default="1", show_default=True, help="As checkout's.")
    @click.pass_context
    def fetch(
        ctx: click.Context,
        ref: str,
        version: int | None,
        retry: int,
        sample_type: str | None,
        sampling: str,
        seed: str,
    ) -> None:
        """Download a version's objects into the local store, without touching the workspace."""
        sample = {sample_type: sampling, "seed": seed} if sample_type else None
        with _progress() as progress:
            tag, got = _repo(ctx).fetch(et, ref, version, progress, sample)
        click.echo(f"Fetched {tag}: {got} object(s) downloaded")

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

    @command("log")
    @click.argument("name")
    @click.option("--stat", is_flag=True, help="Files added and deleted per version, by folder.")
    @click.option("--fullstat", is_flag=True, help="Files added and deleted per version, each one.")
    @click.pass_context
    def log_(ctx: click.Context, name: str, stat: bool, fullstat: bool) -> None:
        from ..verbs.history import log_text

        info("Repository", log_text(_repo(ctx), et, name, stat=stat, fullstat=fullstat))

    @command("diff")
    @click.argument("name")
    @click.argument("first_tag")
    @click.argument("second_tag")
    @click.option("--full", is_flag=True, help="Every file, not a count per folder.")
    @click.pass_context
    def diff(ctx: click.Context, name: str, first_tag: str, second_tag: str, full: bool) -> None:
        """The files added, updated and deleted between two versions."""
        from ..verbs.history import short_listing

        added, updated, deleted = _repo(ctx).diff(et, name, first_tag, second_tag)
        first = True
        for title, files in (
            ("Added files:", added),
            ("Updated files:", updated),
            ("Deleted files:", deleted),
        ):
            if not files:
                continue
            click.echo(title if first else "\n" + title)
            first = False
            for line in [f"\t{f}" for f in files] if full else short_listing(files):
                click.echo(line)

    @command("reset")
    @click.argument("name")
    @click.option(
        "--hard", "mode", flag_value="hard", default=True, help="Index and workspace too (default)."
    )
    @click.option("--mixed", "mode", flag_value="mixed", help="The index too, not the workspace.")
    @click.option("--soft", "mode", flag_value="soft", help="Only the version.")
    @click.option("--reference", default="head", type=click.Choice(["head", "head~1"], case_sensitive=False))
    @click.pass_context
    def reset(ctx: click.Context, name: str, mode: str, reference: str) -> None:
        """Go back to the checked-out version (head) or drop the last, unpushed one (head~1)."""
        info("Repository", f"Initializing reset [--{mode}] [{reference.upper()}] of commit. ")
        tag = _repo(ctx).reset(et, name, mode, reference)
        click.echo(f"{et} {name}: {tag or 'no version'} checked out")

    @command("export")
    @click.argument("tag")
    @click.argument("bucket")
    @click.option("--credentials", default=None, callback=not_empty, help="AWS profile.")
    @click.option("--endpoint", default=None, help="S3 endpoint URL.")
    @click.option("--region", default="us-east-1", show_default=True)
    @click.option("--retry", default=2, type=click.IntRange(0), help="Accepted (every object is retried).")
    @click.pass_context
    def export(
        ctx: click.Context,
        tag: str,
        bucket: str,
        credentials: str | None,
        endpoint: str | None,
        region: str,
        retry: int,
    ) -> None:
        """Copy the objects of a version to another bucket."""
        repo = _repo(ctx)
        info("Local Repository", f"Exporting tag [{tag}] from [{repo.metadata(et).path}] to [{bucket}].")
        with _progress() as progress:
            n = repo.export(
                et, tag, bucket, profile=credentials, region=region, endpoint=endpoint, progress=progress
            )
        click.echo(f"Exported {tag}: {n} object(s) written to {bucket}")

    @command("import")
    @click.argument("bucket")
    @click.argument("entity_dir")
    @click.option("--credentials", default=None, callback=not_empty, help="AWS profile.")
    @click.option("--region", default="us-east-1", show_default=True)
    @click.option("--retry", default=2, type=click.IntRange(0), help="Accepted (every object is retried).")
    @click.option("--path", default=None, callback=not_empty, help="Import every key under this prefix.")
    @click.option("--object", "obj", default=None, callback=not_empty, help="Import this one key.")
    @click.option("--storage-type", default="s3", type=click.Choice(["s3"]), show_default=True)
    @click.option("--endpoint-url", default=None)
    @click.pass_context
    def import_(
        ctx: click.Context,
        bucket: str,
        entity_dir: str,
        credentials: str | None,
        region: str,
        retry: int,
        path: str | None,
        obj: str | None,
        storage_type: str,
        endpoint_url: str | None,
    ) -> None:
        """Copy plain files from a bucket into <type>/ENTITY_DIR."""
        written = _repo(ctx).import_files(
            et,
            bucket,
            entity_dir,
            obj=obj,
            path=path,
            profile=credentials,
            region=region,
            endpoint=endpoint_url,
        )
        click.echo(f"Imported {len(written)} file(s) into {et}/{entity_dir}")

    @command("fsck")
    @click.option("--no-fix", is_flag=True, help="Only report.")
    @click.option(
        "--fix-workspace", is_flag=True, help="Accepted: workspace files are fixed unless --no-fix."
    )
    @click.option("--full", is_flag=True, help="List the corrupted files.")
    @click.pass_context
    def fsck(ctx: click.Context, no_fix: bool, fix_workspace: bool, full: bool) -> None:
        from ..verbs.fetch import missing_descriptors

        repo = _repo(ctx)
        res = repo.fsck(et, fix=not no_fix)
        missing, restored = missing_descriptors(repo, et, fix=not no_fix)
        missing = [m for m in missing if m not in res.corrupted_objects]  # counted once, as corrupted
        restored = [m for m in restored if m in missing]
        click.echo(f"INFO - HashFS: starting integrity check on [.ml-git/{et}/objects/hashfs]")
        click.echo(f"INFO - HashFS: starting integrity check on [.ml-git/{et}/cache/hashfs]")
        click.echo(f"[{len(res.corrupted_objects)}] corrupted file(s) in Local Repository")
        click.echo(f"[{len(res.corrupted_index)}] corrupted file(s) in Index")
        click.echo(f"[{len(res.corrupted_workspace)}] corrupted file(s) in Workspace")
        click.echo(f"Total of corrupted files: {res.total}")
        if res.fixed or res.unfixable:
            click.echo(f"Fixed: {len(res.fixed)}; could not fix: {len(res.unfixable)}")
        # ML-Git 2.9.9's summary, word for word (scripts grep these)
        click.echo(f"Total of corrupted files detected: {res.total}. ")
        click.echo(f"Total of missing files detected: {len(missing)}. ")
        click.echo(f"Total of fixed files (corrupted and missing): {len(res.fixed) + len(restored)}. ")
        if ctx.obj["verbose"] or full:
            for item in missing:
                click.echo(f"    missing: {item}")
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
        "--thorough", is_flag=True, help="Restore missing local descriptors, and verify every object."
    )
    @click.option(
        "--paranoid", is_flag=True, help="Download every bucket object and verify it against its CID."
    )
    @click.option("--retry", default=2, type=click.IntRange(0), help="Accepted (every object is retried).")
    @click.option("--full", is_flag=True, help="List the missing and corrupted objects.")
    @click.option("--no-fix", is_flag=True, help="Only report.")
    @click.pass_context
    def remote_fsck(
        ctx: click.Context, name: str, thorough: bool, paranoid: bool, retry: int, full: bool, no_fix: bool
    ) -> None:
        from ..verbs.fetch import restore_descriptors, version_descriptors

        repo = _repo(ctx)
        descriptors = set().union(*version_descriptors(repo, et, name).values())
        lacking = sorted(c for c in descriptors if not repo._objects(et).exists(c))
        if lacking and thorough and not no_fix:
            info("Local Repository", f"{len(lacking)} missing descriptor files detected. Download:")
            restore_descriptors(repo, et, name)
        elif lacking:
            info(
                "Local Repository",
                f"{len(lacking)} missing descriptor files. Consider using the --thorough option.",
            )
            if full:
                info("Local Repository", f"List of missing descriptor files: {lacking}")
            else:
                info(
                    "Local Repository",
                    "You can use the --full option to see the complete list of missing descriptor files.",
                )
        deep = thorough or paranoid
        if paranoid:
            info("Local Repository", "Paranoid mode is active - Downloading files: ")
        info("Local Repository", "Starting the IPLD check on storage")
        info("Local Repository", "Starting the blobs check on storage")
        res = repo.remote_fsck(et, name, thorough=deep, fix=not no_fix)
        fixed_ipld = [c for c in res.fixed if c in descriptors]
        fixed_blob = [c for c in res.fixed if c not in descriptors]
        ipld_total = len(descriptors)
        info("Local Repository", "The file system consistency check is complete.")
        if full:
            info("Local Repository", f"IPLD fixed: {fixed_ipld}")
            info("Local Repository", f"Blobs fixed: {fixed_blob}")
        click.echo(
            f"INFO - MLGit: remote-fsck -- fixed   : ipld[{len(fixed_ipld)}] / blob[{len(fixed_blob)}]"
        )
        click.echo(
            f"INFO - MLGit: remote-fsck -- total verified : ipld[{ipld_total}] / "
            f"blob[{max(0, res.objects_checked - ipld_total)}]"
        )
        click.echo(
            f"INFO - remote-fsck: {res.objects_checked} object(s) of {len(res.versions)} version(s) "
            f"of {et} {name} checked in {', '.join(res.storages) or 'no storage'}"
        )
        click.echo(f"[{len(res.missing)}] missing object(s) in the storage")
        if deep:
            click.echo(f"[{len(res.corrupted)}] corrupted object(s) in the storage")
        if res.fixed or res.unfixable:
            click.echo(f"Fixed: {len(res.fixed)}; could not fix: {len(res.unfixable)}")
        if ctx.obj["verbose"] or full:
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
        info("Repository", f"The permissions for {path} have been changed.")

    if et == "models":

        @command("metrics")
        @click.argument("name")
        @click.option(
            "--export-path", default=None, callback=not_empty, help="Folder for NAME-metrics.csv|json."
        )
        @click.option("--export-type", default=None, type=click.Choice(["csv", "json"], case_sensitive=False))
        @click.pass_context
        def metrics(ctx: click.Context, name: str, export_path: str | None, export_type: str | None) -> None:
            if export_type and not export_path:
                raise click.UsageError("The option `export-path` is required if `export-type` is used.")
            if export_path:
                from ..verbs.history import export_metrics

                path = export_metrics(_repo(ctx), name, Path(export_path), export_type or "json")
                info("MLGit", f"The metrics were exported to the file: {path}")
                return
            from ..verbs.history import DATASET_INFO, LABELS_INFO, metrics_info, table

            for row in metrics_info(_repo(ctx), name):  # ML-Git's layout: one table per version
                cells = [["Name", "Value"], ["Date", row["Date"]]]
                cells += [[label, str(row[label])] for label in (DATASET_INFO, LABELS_INFO)]
                cells += [[k, str(v)] for k, v in row["metrics"].items()]
                click.echo(f"Tag: {row['Tag']}\n{table(cells)}\n")

    @command("lineage")
    @click.argument("ref")
    @click.pass_context
    def lineage(ctx: click.Context, ref: str) -> None:
        """The versions this version came from (dataset, labels), recursively."""
        graph = _repo(ctx).lineage(et, ref)
        for depth, node in enumerate([graph.root, *graph.upstream]):
            metrics = ", ".join(f"{k}={v:g}" for k, v in sorted(node.metrics.items()))
            lead = "" if depth == 0 else "  <- "
            click.echo(
                f"{lead}{node.entity_type} {node.tag} ({node.sha[:12]})"
                + (f"  metrics: {metrics}" if metrics else "")
            )

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
