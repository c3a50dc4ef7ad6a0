"""``ml-git <type> fetch|log|diff|reset|export|import|fsck|remote-fsck`` and ``models metrics``:
ML-Git's commands beyond the quick how-to, with its output lines."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from .base import HELP, _progress, _repo, info, not_empty


def register(grp: click.Group, et: str) -> None:
    """Add these commands to the ``et`` group."""

    def command(name: str, **kw: Any) -> Callable[[Callable[..., Any]], click.Command]:
        if name in HELP:
            kw.setdefault("help", HELP[name])
        return grp.command(name, **kw)

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
