"""``EntityStore``: the staged index, the HEAD file and the versions of entities (read from the
metadata repository). Verbs read and write entity state only through it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import index as idx
from . import manifest as mf
from . import spec as specs
from . import yamlio
from .atomic import atomic_write, refuse_symlinked_state
from .errors import MetadataError, TagNotFound, UnfinishedCheckout
from .layout import Layout
from .metadata import MetadataRepo
from .names import check_name, parse_tag, tag_name, tag_version

Version = tuple[dict[str, Any], mf.Manifest, str, str]  # spec body, manifest, folder, commit sha


class EntityStore:
    def __init__(self, layout: Layout, metadata: Callable[[str], MetadataRepo]) -> None:
        self.layout = layout
        self.metadata = metadata

    # -- the workspace copy ------------------------------------------------------------------
    def load(self, et: str, name: str) -> tuple[Path, dict[str, Any]]:
        """(entity folder, spec body) of the workspace copy."""
        path = self.layout.entity_path(et, name)
        return path, specs.load(specs.spec_file(path, name), et, name)

    def refuse_symlinked(self, et: str, name: str) -> None:
        """Before a verb changes anything: the entity's index folder, HEAD file, cache and object store
        under ``.ml-git/`` are reached through no symlink (``UnsafePath`` naming it). Their writers
        check again as they write (``atomic.refuse_symlinked_state``); this makes the refusal come first."""
        for state in (
            self.layout.index_dir(et, name) / "INDEX.yaml",
            self.layout.head_file(et, name),
            self.layout.checkout_file(et, name),
            self.layout.cache(et).root / "hashfs",
            self.layout.objects(et).root / "hashfs",
        ):
            refuse_symlinked_state(state)

    # -- HEAD: the version checked out -------------------------------------------------------
    def head(self, et: str, name: str) -> tuple[str, str] | None:
        """(tag, sha) of the version checked out, None when never committed/checked out here."""
        path = self.layout.head_file(et, name)
        if not path.exists():
            return None
        doc = yamlio.load_file(path, "ref")
        if not isinstance(doc, dict) or len(doc) != 1:
            return None
        tag, sha = next(iter(doc.items()))
        return str(tag), str(sha)

    def set_head(self, et: str, name: str, tag: str, sha: str) -> None:
        atomic_write(self.layout.head_file(et, name), f"{tag}: {sha}\n".encode())

    def clear_head(self, et: str, name: str) -> None:
        head = self.layout.head_file(et, name)
        refuse_symlinked_state(head)  # refs/<name> swapped for a symlink: no file of another's deleted
        head.unlink(missing_ok=True)

    # -- a checkout changing the workspace ------------------------------------------------------
    def begin_checkout(self, et: str, name: str, tag: str, sha: str) -> None:
        """Before a checkout's first change to the workspace: until ``end_checkout``, the entity's files
        may be partly ``tag``'s (a kill, a failed rename), and add/commit/status say so."""
        atomic_write(self.layout.checkout_file(et, name), f"{tag}: {sha}\n".encode())

    def end_checkout(self, et: str, name: str) -> None:
        path = self.layout.checkout_file(et, name)
        refuse_symlinked_state(path)
        path.unlink(missing_ok=True)

    def unfinished_checkout(self, et: str, name: str) -> str | None:
        """The tag of a checkout that stopped while it changed the workspace, or None."""
        path = self.layout.checkout_file(et, name)
        if not path.exists():
            return None
        doc = yamlio.load_file(path, "ref")
        return str(next(iter(doc))) if isinstance(doc, dict) and len(doc) == 1 else "an unknown version"

    def refuse_if_unfinished(self, et: str, name: str, verb: str) -> None:
        """``UnfinishedCheckout`` when a checkout stopped halfway: a version made now would mix two."""
        tag = self.unfinished_checkout(et, name)
        if tag is not None:
            raise UnfinishedCheckout(
                f"{et} {name}: the checkout of {tag} stopped while it changed the files "
                f"({self.layout.checkout_file(et, name)}): they are partly {tag}'s, partly the previous "
                f"version's; {verb} refused. Finish it: ml-git {et} checkout {tag}",
                tag,
            )

    # -- staging ------------------------------------------------------------------------------
    def staged(self, et: str, name: str) -> tuple[idx.Index, mf.Manifest]:
        """The index and the manifest it stages (``MANIFEST.yaml`` beside it is written for ML-Git's sake)."""
        index = idx.load(self.layout.index_dir(et, name) / "INDEX.yaml")
        return index, {rel: e.cid for rel, e in index.items()}

    def has_index(self, et: str, name: str) -> bool:
        return (self.layout.index_dir(et, name) / "INDEX.yaml").exists()

    def has_staged(self, et: str, name: str) -> bool:
        return (self.layout.index_dir(et, name) / "MANIFEST.yaml").exists()

    def save_staged(self, et: str, name: str, index: idx.Index) -> None:
        d = self.layout.index_dir(et, name)
        idx.save(d / "INDEX.yaml", index)
        atomic_write(d / "MANIFEST.yaml", mf.dumps({rel: e.cid for rel, e in index.items()}))

    # -- versions -----------------------------------------------------------------------------
    def read_version(self, et: str, tag: str, name: str | None = None) -> Version:
        """(spec body, manifest, folder in the metadata repo, sha) of a tagged version."""
        return self.read_commit(et, self.metadata(et).tag_sha(tag), name or tag_name(tag), tag)

    def version_spec(self, et: str, tag: str, name: str, folder: str) -> dict[str, Any]:
        """The spec body of a tagged version, read in this process from ``folder`` (the entity's folder
        now) when it is there; found as ``read_version`` finds it when the entity moved."""
        md = self.metadata(et)
        sha = md.tag_sha(tag)
        data = md.small_file(sha, f"{folder}/{name}.spec")
        if data is None:
            return self.read_commit(et, sha, name, tag)[0]
        return specs.parse(data, et, f"{tag}:{folder}/{name}.spec", name)

    def read_commit(self, et: str, sha: str, name: str, label: str | None = None) -> Version:
        """``read_version`` of a commit (still readable after its tag was taken back); ``label``
        names it in errors."""
        md = self.metadata(et)
        md.listing(sha)  # one ls-tree per commit: the tree of a sha never changes
        label = label or sha
        spec_path = md.find_spec(name, sha)
        if spec_path is None:
            raise TagNotFound(f"tag {label} in the {et} metadata repository holds no {name}/{name}.spec")
        folder = spec_path.rsplit("/", 1)[0]
        body = specs.parse(md.show(sha, spec_path, label=label), et, f"{label}:{spec_path}", name)
        manifest = mf.parse(
            md.show(sha, f"{folder}/MANIFEST.yaml", label=label), f"{label}:{folder}/MANIFEST.yaml"
        )
        return body, manifest, folder, sha

    def head_manifest(self, et: str, name: str) -> mf.Manifest:
        head = self.head(et, name)
        if head is None:
            return {}
        try:
            return self.read_version(et, head[0], name)[1]
        except (TagNotFound, MetadataError):
            return {}

    def next_version(self, et: str, name: str) -> int:
        versions = [tag_version(t) or 0 for t in self.metadata(et).tags(name)]
        return max(versions, default=0) + 1

    def resolve_ref(self, et: str, ref: str, version: int | None) -> tuple[str, str]:
        """(tag, entity name) of a ref: a version tag, or a name (its last version, or ``version``)."""
        md = self.metadata(et)
        ref = str(ref)
        for attempt in (0, 1):
            if attempt:
                md.fetch()
            if version is not None:
                check_name(ref)
                tags = [t for t in md.tags(ref) if tag_version(t) == int(version)]
                if tags:
                    return tags[-1], ref
            elif parse_tag(ref) is not None and md.has_tag(ref):
                return ref, tag_name(ref)
            elif parse_tag(ref) is None:
                check_name(ref)
                tags = md.tags(ref)
                if tags:
                    return tags[-1], ref
        name = tag_name(ref) if version is None else ref
        known = ", ".join(md.tags(name)) or "none"
        wanted = f"{ref} version {version}" if version is not None else ref
        raise TagNotFound(f"{et}: no version matches {wanted!r} in {md.path} (tags of {name}: {known})")
