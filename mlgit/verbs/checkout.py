"""``<type> checkout TAG|NAME``: materialize a version in the workspace."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import index as idx
from .. import sampling
from .. import spec as specs
from ..atomic import TMP_DIR, atomic_write, remove_stale_temps
from ..errors import (
    LocalChanges,
)
from ..lineage import verify_link
from ..materialize import Builder, Staged, build_all, check_bounds
from ..names import safe_relpath
from ..results import (
    Link,
    VersionResult,
    link_of,
    version_result,
)
from ..safety import disk_errors, is_pushed, refuse_symlinked_parents
from ..sampling import Sample
from ..transfer import Progress, download
from ..workspace import IGNORE_FILE, README, find_entity
from .changes import mark_staged
from .status import status

if TYPE_CHECKING:
    from ..context import Context

log = logging.getLogger(__name__)


@disk_errors("checkout")
def checkout(
    ctx: Context,
    et: str,
    ref: str | Link | Mapping[str, str],
    version: int | None = None,
    bare: bool = False,
    force: bool = False,
    progress: Progress | None = None,
    fail_limit: int | None = None,
    sample: Sample | Mapping[str, Any] | None = None,
    fetch: bool = False,
) -> VersionResult:
    """``sample`` checks out a subset, chosen as ML-Git does (``mlgit.sampling``); ``fetch`` asks
    the remote first, so a name means the remote's latest."""
    if fetch:
        ctx.metadata(et).fetch()
    link = ref if isinstance(ref, Link) else link_of(ref)  # a link {tag, sha}: checked against its tag
    tag, name = ctx.store.resolve_ref(et, link.tag if link else str(ref), version)
    if link is not None:
        verify_link(ctx.metadata(et), link, f"checkout of the link {link.tag}")
    body, manifest, folder, sha = ctx.store.read_version(et, tag, name)
    listed = len(manifest)  # the whole version's, which the spec's manifest.amount declares
    if sample is not None:
        manifest = sampling.apply(sample, manifest, tag)
    folder = safe_relpath(folder, f"{tag}: entity folder")
    dest = ctx.root / et / folder
    refuse_symlinked_parents(ctx.root, dest)
    index_dir = ctx.layout.index_dir(et, name)
    ctx.store.refuse_symlinked(et, name)  # the index and HEAD are written last: looked at first
    checked: set[Path] = set()  # each folder is looked at once, not once per file under it
    found = _existing(ctx.root, dest, manifest, checked)
    current = find_entity(ctx.root / et, name)
    sampled = sampling.is_sampled(index_dir)  # a folder planted where the flag goes: refused before any write
    unfinished = ctx.store.unfinished_checkout(et, name)
    if unfinished is not None and unfinished != tag and not force:
        ctx.store.refuse_if_unfinished(et, name, f"checkout of {tag} (without --force)")
    # the same checkout again finishes one that stopped halfway: its files are the old or the new version's
    if current is not None and not force and unfinished is None:
        st = status(ctx, et, name)
        # after a sampled checkout, the files left out are not deletions of the user's
        deleted = [] if sampled else st.deleted
        dirty = st.corrupted + st.untracked + st.missing + st.new + st.modified + deleted
        if ctx.store.head(et, name) is None:  # never versioned here: what create wrote is replaced
            dirty = [d for d in dirty if not _created_metadata(current, d, name)]
        if dirty:
            raise LocalChanges(
                f"{et} {name}: checkout of {tag} would overwrite {len(dirty)} local change(s) in {current} "
                f"(first: {dirty[0]}); commit them, or checkout with --force"
            )
    old_index, _ = ctx.store.staged(et, name)
    stale = [rel for rel in old_index if rel not in manifest]
    for rel in stale:  # removed below: never through a folder swapped for a symlink
        refuse_symlinked_parents(ctx.root, (dest / rel).parent, checked)
    mutability = body.get("mutability", "strict")
    objects, cache = ctx.layout.objects(et), ctx.layout.cache(et)
    for folder_ in (ctx.root / TMP_DIR, cache.root):  # what a checkout killed mid-way left behind
        if folder_.is_dir():
            remove_stale_temps(folder_)
    new_index: idx.Index = {}
    jobs: dict[str, tuple[str, Path]] = {}
    for rel, cid in sorted(manifest.items()):
        old = old_index.get(rel)
        if bare:
            new_index[rel] = idx.Entry(cid, 0, 0, 0, idx.BARE)
        elif old is not None and old.cid == cid and rel in found and old.matches(found[rel]):
            new_index[rel] = old
        else:
            jobs[rel] = (cid, dest / rel)
    _refuse_conflicts(
        f"{et} {name}: checkout of {tag}",
        dest,
        jobs,
        found,
        old_index,
        stale,
        checked,
        force or current is not None,
    )
    downloaded = skipped = 0
    staged: Staged | None = None
    if jobs:
        need = {cid for cid, _ in jobs.values() if mutability == "mutable" or not cache.exists(cid)}
        threads = int(ctx.config["push_threads_count"])
        storage = ctx.storage(body["manifest"]["storage"]) if need else None
        verified: dict[str, bytes] = {}  # the descriptors downloaded, verified: parsed from memory
        try:
            if storage is not None:
                rep = download(
                    storage, objects, need, threads, progress, fail_limit, keep=verified.__setitem__
                )
                downloaded, skipped = len(rep.done), rep.skipped
            pushed = is_pushed(ctx.metadata(et), sha)
            shared = ctx.layout.shared_cache(et)  # run folders: a shared cache is never linked writable
            builder = Builder(
                objects, cache, mutability, storage, ctx.root / TMP_DIR, pushed, shared, verified
            )
            check_bounds(builder, tag, body, listed, jobs, dest)
            # every file built and verified in .ml-git/tmp first: one bad object leaves the workspace as it was
            staged = build_all(builder, jobs, threads, progress, fail_limit)
        finally:
            if storage is not None:
                storage.close()
        downloaded += builder.fetched
    md = ctx.metadata(et)
    try:
        in_tag = set(md.files(tag))
        metadata_files = {specs.spec_file(dest, name): md.show(tag, f"{folder}/{name}.spec")} | {
            dest / extra: md.show(tag, f"{folder}/{extra}")
            for extra in (README, IGNORE_FILE)
            if f"{folder}/{extra}" in in_tag
        }
    except BaseException:
        if staged is not None:
            staged.discard()
        raise
    # -- every object verified: from here on the workspace changes -------------------------------------
    ctx.store.begin_checkout(et, name, tag, sha)  # until the end: add/commit/status say it stopped halfway
    for rel in stale:  # first: a file of the old version may be a folder of the new one
        if os.path.lexists(dest / rel):
            (dest / rel).unlink()
    if staged is not None:
        staged.place(int(ctx.config["push_threads_count"]))
        for rel, st_ in staged.stats.items():
            new_index[rel] = idx.Entry.from_stat(jobs[rel][0], st_)
            if mutability != "mutable":
                mark_staged(str(jobs[rel][1]))  # an edit in place is told from a new file (verbs/changes.py)
    dest.mkdir(parents=True, exist_ok=True)
    for path, data in metadata_files.items():
        atomic_write(path, data)
    ctx.store.save_staged(et, name, new_index)
    sampling.mark(index_dir, sample)
    ctx.store.set_head(et, name, tag, sha)
    ctx.store.end_checkout(et, name)
    size = sum(e.size for e in new_index.values())
    return version_result(
        et, name, body, dest, manifest, tag, sha, size=size, downloaded=downloaded, skipped=skipped
    )


def _existing(
    root: Path, dest: Path, rels: Mapping[str, str], checked: set[Path]
) -> dict[str, os.stat_result]:
    """The lstat of each of ``rels`` that exists under ``dest``, every folder on the way refused when it is
    a symlink (``refuse_symlinked_parents``) and added to ``checked``; a file is looked at only in a
    folder that exists (a fresh checkout: one look per folder, not one per file)."""
    by_folder: dict[str, list[str]] = {}
    for rel in rels:
        by_folder.setdefault(rel.rpartition("/")[0], []).append(rel)
    found: dict[str, os.stat_result] = {}
    for folder_rel, names in by_folder.items():
        folder = dest / folder_rel if folder_rel else dest
        if folder in checked:  # above another folder of the manifest: looked at already, no symlink
            try:
                st: os.stat_result | None = os.lstat(folder)
            except (FileNotFoundError, NotADirectoryError):
                st = None
        else:
            st = refuse_symlinked_parents(root, folder, checked)
            checked.add(folder)
        if st is None or not stat.S_ISDIR(st.st_mode):
            continue  # nothing can exist below it (a file there is refused later, by _refuse_conflicts)
        for rel in names:
            if s := refuse_symlinked_parents(root, dest / rel, checked):
                found[rel] = s
    return found


def _refuse_conflicts(
    what: str,
    dest: Path,
    jobs: Mapping[str, tuple[str, Path]],
    found: Mapping[str, os.stat_result],
    old_index: idx.Index,
    stale: list[str],
    folders: set[Path],
    overwrite: bool,
) -> None:
    """Refuse, before anything is written, what the renames would fail on half-way or lose: a folder
    where a file goes, a file where a folder goes (unless it is a file of the old version, removed), and,
    unless ``overwrite``, a file of the user's (not the old version's) where a file goes."""
    for rel in jobs:
        st = found.get(rel)
        if st is None:
            continue
        if stat.S_ISDIR(st.st_mode):
            raise LocalChanges(
                f"{what} would put a file where {dest / rel} is a folder; move that folder away"
            )
        old = old_index.get(rel)
        if not overwrite and (old is None or not old.matches(st)):
            raise LocalChanges(
                f"{what} would overwrite {dest / rel}, a file not checked out here; move it away, or "
                "checkout with --force"
            )
    removed = {dest / rel for rel in stale}
    for folder in folders:
        try:
            st = os.lstat(folder)
        except (FileNotFoundError, NotADirectoryError):
            continue
        if not stat.S_ISDIR(st.st_mode) and folder not in removed:
            raise LocalChanges(f"{what} needs a folder where {folder} is a file; move that file away")


def _created_metadata(folder: Path, rel: str, name: str) -> bool:
    """The spec and the empty README ``create`` wrote: ML-Git's checkout overwrites them."""
    if rel == f"{name}.spec":
        return True
    return rel == README and (folder / README).is_file() and (folder / README).stat().st_size == 0
