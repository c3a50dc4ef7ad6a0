"""``Repository``: one object per workspace folder, with the verbs of the ML-Git how-to.

No ``os.chdir``, no module state: two Repository objects may be used from two threads at once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import config as cfg
from . import index as idx
from . import manifest as mf
from . import sampling
from . import spec as specs
from .errors import (
    ConfigError,
    EntityNotFound,
    InvalidName,
    LocalChanges,
    MetadataError,
    MutabilityError,
    NothingToCommit,
    SpecError,
    TagNotFound,
    UnsafePath,
    VersionConflict,
)
from .gitsafe import check_remote_url
from .lineage import verify_link, walk_lineage, warn_if_unpushed
from .locking import LOCK_NAME, PathLock, locked
from .materialize import Builder, build_all, check_bounds
from .metadata import MetadataRepo
from .names import MUTABILITIES, check_name, entity_type, make_tag, parse_categories, parse_tag, safe_relpath
from .objects import (
    TMP_DIR,
    HashFS,
    LocalObjects,
    atomic_write,
    remove_stale_temps,
    temp_folder_for,
    temp_name,
)
from .results import FsckResult, Lineage, LineageNode, Link, StatusResult, VersionResult
from .safety import disk_errors, is_pushed
from .sampling import Sample
from .storage import Storage, open_storage, parse_uri
from .storage.local import check_bucket_folder
from .transfer import Progress, download, upload
from .verbs.changes import changed_in_place, mark_staged, refresh, under
from .workspace import (
    IGNORE_FILE,
    README,
    find_entity,
    read_metrics_file,
    scan,
    stage,
    to_metric,
)
from .yamlio import MAX_SMALL, read_bounded

if TYPE_CHECKING:
    from .remote_fsck import RemoteFsckResult
    from .verbs.gc import GcReport

log = logging.getLogger(__name__)
FAKE_STORAGE = "fake_storage"  # the bucket ML-Git's create names when none is given
LinkArg = str | Mapping[str, str] | Link | None


class Repository:
    """An ML-Git project folder: ``.ml-git/config.yaml`` plus the entity folders."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        storage_credentials: Mapping[str, Mapping[str, str]] | None = None,
        lock_timeout: float | None = None,
    ) -> None:
        self.root = Path(path).resolve()
        self.workspace_lock = PathLock(
            self.root / cfg.MLGIT_DIR / LOCK_NAME, f"workspace {self.root}", lock_timeout
        )
        self._credentials = dict(storage_credentials or {})
        self._metadata: dict[str, MetadataRepo] = {}
        self._lock = threading.RLock()
        self._global_config = False
        self.config  # noqa: B018 - fail early, with the path, when this is not a project

    def __repr__(self) -> str:
        return f"Repository({str(self.root)!r})"

    # -- project setup ------------------------------------------------------------------
    @classmethod
    def init(
        cls,
        path: str | os.PathLike[str],
        exist_ok: bool = True,
        storage_credentials: Mapping[str, Mapping[str, str]] | None = None,
    ) -> Repository:
        root = Path(path).resolve()
        if cfg.MLGIT_DIR in root.parts:
            raise ConfigError(f"{root} is inside a {cfg.MLGIT_DIR} folder; expected a project folder")
        if cfg.config_path(root).exists():
            if not exist_ok:
                raise ConfigError(f"{root} is already an ML-Git project ({cfg.config_path(root)} exists)")
        else:
            root.mkdir(parents=True, exist_ok=True)
            cfg.save(root, cfg.initial())
        return cls(root, storage_credentials)

    @property
    def config(self) -> dict[str, Any]:
        return cfg.load(self.root)

    def _update_config(self, fn: Any) -> None:
        with self._lock:
            if self._global_config:
                data = cfg.load_global()
                fn(data)
                cfg.save_global(data)
                return
            data = cfg.load_local(self.root)
            fn(data)
            cfg.save(self.root, data)

    @locked
    @contextlib.contextmanager
    def global_config(self) -> Iterator[None]:
        """Config changes inside this block go to the global file (ML-Git's ``--global``)."""
        self._global_config = True
        try:
            yield
        finally:
            self._global_config = False

    def remote_add(self, entity_type_: str, url: str) -> str:
        """Set the metadata remote of a type; returns the URL it replaced ('' when none)."""
        et = entity_type(entity_type_)
        check_remote_url(str(url), f"{et} metadata remote")
        previous = str((self.config.get(et) or {}).get("git") or "")

        def apply(data: dict[str, Any]) -> None:
            data[et] = {**data.get(et, {}), "git": str(url)}

        self._update_config(apply)
        md = self.metadata(et)
        if md.exists:
            md.init(str(url))
        return previous

    def remote_del(self, entity_type_: str) -> str:
        """Forget the metadata remote of a type (ML-Git's ``remote del``); returns the URL removed."""
        from .verbs.remotes import remote_del

        return remote_del(self, entity_type(entity_type_))

    @locked
    def storage_add(
        self,
        name: str,
        type: str = "s3h",
        *,
        path: str | None = None,
        credentials: str | None = None,
        endpoint_url: str | None = None,
        region: str | None = "us-east-1",
        username: str | None = None,
        private_key: str | None = None,
        port: int | None = None,
        known_hosts: str | None = None,
    ) -> None:
        check_name(name, "storage name")
        if type == "local":
            if not path:
                raise ConfigError(
                    f"storage local://{name}: expected --path=DIR (the folder used as a bucket)"
                )
            settings: dict[str, Any] = {"path": str(path)}
            folder = Path(path) if Path(path).is_absolute() else self.root / path
            check_bucket_folder(folder, self.root, f"local://{name}")
            folder.mkdir(parents=True, exist_ok=True)
        elif type in ("s3h", "s3"):
            settings = {  # as ML-Git writes it: null profile = the AWS credential chain
                "aws-credentials": {"profile": credentials or None},
                "region": region or "us-east-1",
                "endpoint-url": endpoint_url or None,
            }
        elif type in ("sftph", "azureblobh"):
            from .storage.settings import storage_settings

            settings = storage_settings(type, name, endpoint_url, username, private_key, port, known_hosts)
        else:
            raise ConfigError(f"storage type: expected local, s3h, sftph or azureblobh, found {type!r}")

        def apply(data: dict[str, Any]) -> None:
            data.setdefault("storages", {}).setdefault(type, {})[name] = settings

        self._update_config(apply)

    @locked
    def storage_del(self, name: str, type: str | None = None) -> None:
        def apply(data: dict[str, Any]) -> None:
            found = False
            for scheme, section in (data.get("storages") or {}).items():
                if (type is None or scheme == type) and name in (section or {}):
                    del section[name]
                    found = True
            if not found:
                raise ConfigError(f"storage {name!r} is not in {cfg.config_path(self.root)}")

        self._update_config(apply)

    @locked
    def set_config(self, key: str, value: Any) -> None:
        def apply(data: dict[str, Any]) -> None:
            data[key] = value

        self._update_config(apply)

    @locked
    def entity_init(self, entity_type_: str, require_remote: bool = False) -> None:
        """Clone the type's metadata remote (without one: a local repository, unless ``require_remote``)."""
        et = entity_type(entity_type_)
        url = str(self.config[et].get("git") or "")
        if require_remote and not url:
            raise ConfigError(
                f"Unable to find remote repository. Add the remote first: no {et}.git in "
                f"{cfg.config_path(self.root)}; run: ml-git repository remote {et} add URL"
            )
        self.metadata(et).init(url)

    @locked
    def create(
        self,
        entity_type_: str,
        name: str,
        categories: str | list[str],
        mutability: str = "strict",
        storage_type: str = "s3h",
        bucket: str | None = None,
        entity_dir: str = "",
        version: int = 1,
    ) -> Path:
        """Write ``<type>/<entity_dir>/<name>/<name>.spec``; returns the entity folder."""
        et = entity_type(entity_type_)
        check_name(name)
        if "_" in name:
            raise InvalidName(
                f"The value '{name}' is invalid. An entity cannot contain blank space, underline, special "
                "characters, and punctuation characters."
            )
        cats = parse_categories(categories)
        if mutability not in MUTABILITIES:
            raise InvalidName(f"--mutability: expected strict, flexible or mutable, found {mutability!r}")
        if isinstance(version, bool) or int(version) < 1:
            raise SpecError(f"--version: expected a positive integer, found {version!r}")
        configured = (self.config.get("storages") or {}).get(storage_type) or {}
        if bucket is None and not configured:
            bucket = FAKE_STORAGE  # as ML-Git: the entity is created, set its storage before push
            log.warning(
                "%s %s: no %s storage configured; the spec names %s://%s",
                et,
                name,
                storage_type,
                storage_type,
                bucket,
            )
        elif bucket is None:
            if len(configured) != 1:
                raise ConfigError(
                    f"--bucket-name: expected one of the {storage_type} storages "
                    f"({', '.join(configured) or 'none configured'})"
                )
            bucket = next(iter(configured))
        if bucket not in configured and bucket != FAKE_STORAGE:
            raise ConfigError(
                f"storage {storage_type}://{bucket} is not configured in {cfg.config_path(self.root)} "
                f"(configured {storage_type}: {', '.join(configured) or 'none'}); "
                f"run: ml-git repository storage add {bucket} --type={storage_type}"
            )
        existing = find_entity(self.root / et, name)
        if existing is not None:
            raise InvalidName(f"{et} {name} already exists at {existing}")
        rel = (
            safe_relpath(entity_dir.strip("/") + "/" + name, "--entity-dir")
            if entity_dir.strip("/")
            else name
        )
        path = self.root / et / rel
        _refuse_symlinked_parents(self.root, path)
        body = {
            "categories": cats,
            "manifest": {"storage": f"{storage_type}://{bucket}"},
            "mutability": mutability,
            "name": name,
            "version": int(version),
        }
        (path / "data").mkdir(parents=True, exist_ok=True)
        specs.save(specs.spec_file(path, name), et, body)
        if not (path / README).exists():
            atomic_write(path / README, b"")  # ML-Git's create writes an empty README.md
        return path

    def gc(self) -> GcReport:
        """Remove local objects and cached files that no index and no unpushed version refers to."""
        from .verbs.gc import gc

        return gc(self)

    # -- internals -----------------------------------------------------------------------
    def metadata(self, et: str) -> MetadataRepo:
        with self._lock:
            if et not in self._metadata:
                self._metadata[et] = MetadataRepo(self._type_dir(et) / "metadata", et)
            return self._metadata[et]

    def _type_dir(self, et: str) -> Path:
        return self.root / cfg.MLGIT_DIR / et

    def _objects(self, et: str) -> HashFS:
        return HashFS(self._shared_dir(et, "objects_path") or self._type_dir(et) / "objects")

    def _cache(self, et: str) -> HashFS:
        return HashFS(self._shared_dir(et, "cache_path") or self._type_dir(et) / "cache")

    def _shared_dir(self, et: str, key: str) -> Path | None:
        """ML-Git's centralized ``objects_path`` / ``cache_path`` of an entity type, when configured."""
        value = (self.config.get(et) or {}).get(key)
        return self.root / str(value) if value else None

    def _index_dir(self, et: str, name: str) -> Path:
        return self._type_dir(et) / "index" / "metadata" / name

    def _head_file(self, et: str, name: str) -> Path:
        return self._type_dir(et) / "refs" / name / "HEAD"

    def _storage(self, uri: str) -> Storage:
        _scheme, bucket = parse_uri(uri)
        config = self.config
        return open_storage(
            uri,
            config.get("storages") or {},
            self.root,
            self._credentials.get(bucket),
            max_pool_connections=max(64, int(config["push_threads_count"])),
        )

    def entity_path(self, entity_type_: str, name: str) -> Path:
        et = entity_type(entity_type_)
        check_name(name)
        found = find_entity(self.root / et, name)
        if found is None:
            raise EntityNotFound(
                f"{et} entity {name!r}: expected {et}/.../{name}/{name}.spec in {self.root}, found none"
            )
        return found

    def _load(self, et: str, name: str) -> tuple[Path, dict[str, Any]]:
        path = self.entity_path(et, name)
        return path, specs.load(specs.spec_file(path, name), et, name)

    def _head(self, et: str, name: str) -> tuple[str, str] | None:
        path = self._head_file(et, name)
        if not path.exists():
            return None
        from . import yamlio

        doc = yamlio.load_file(path, "ref")
        if not isinstance(doc, dict) or len(doc) != 1:
            return None
        tag, sha = next(iter(doc.items()))
        return str(tag), str(sha)

    def _set_head(self, et: str, name: str, tag: str, sha: str) -> None:
        atomic_write(self._head_file(et, name), f"{tag}: {sha}\n".encode())

    def _staged(self, et: str, name: str) -> tuple[idx.Index, mf.Manifest]:
        """The index and the manifest it stages (``MANIFEST.yaml`` beside it is written for ML-Git's sake)."""
        index = idx.load(self._index_dir(et, name) / "INDEX.yaml")
        return index, {rel: e.cid for rel, e in index.items()}

    def _save_staged(self, et: str, name: str, index: idx.Index) -> None:
        d = self._index_dir(et, name)
        idx.save(d / "INDEX.yaml", index)
        atomic_write(d / "MANIFEST.yaml", mf.dumps({rel: e.cid for rel, e in index.items()}))

    def _read_version(
        self, et: str, tag: str, name: str | None = None
    ) -> tuple[dict[str, Any], mf.Manifest, str, str]:
        """(spec body, manifest, folder in the metadata repo, sha) of a tagged version."""
        md = self.metadata(et)
        sha = md.tag_sha(tag)
        parsed = parse_tag(tag)
        ename = name or (parsed[1] if parsed else "")
        spec_path = md.find_spec(ename, tag)
        if spec_path is None:
            raise TagNotFound(f"tag {tag} in the {et} metadata repository holds no {ename}/{ename}.spec")
        folder = spec_path.rsplit("/", 1)[0]
        body = specs.parse(md.show(tag, spec_path), et, f"{tag}:{spec_path}", ename)
        manifest = mf.parse(md.show(tag, f"{folder}/MANIFEST.yaml"), f"{tag}:{folder}/MANIFEST.yaml")
        return body, manifest, folder, sha

    def _head_manifest(self, et: str, name: str) -> mf.Manifest:
        head = self._head(et, name)
        if head is None:
            return {}
        try:
            return self._read_version(et, head[0], name)[1]
        except (TagNotFound, MetadataError):
            return {}

    # -- status / add -------------------------------------------------------------------------
    def status(self, entity_type_: str, name: str) -> StatusResult:
        et = entity_type(entity_type_)
        path, body = self._load(et, name)
        index, _ = self._staged(et, name)
        head = self._head_manifest(et, name)
        files = scan(path, name)
        index = refresh(path, files, index)
        locked = body.get("mutability", "strict") != "mutable"
        untracked, corrupted = [], []
        for rel, st in sorted(files.items()):
            entry = index.get(rel)
            if entry is None:
                untracked.append(rel)
            elif not entry.matches(st):
                if (
                    locked
                    and entry.status != idx.UNLOCKED
                    and changed_in_place(entry, st, path / rel, self._cache(et).path(entry.cid))
                ):
                    corrupted.append(rel)
                else:
                    untracked.append(rel)
        if not index and not head:
            untracked = [f for f in (f"{name}.spec", README) if (path / f).exists()] + untracked
        staged = {rel: e.cid for rel, e in index.items()}
        new = sorted(r for r in staged if r not in head)
        modified = sorted(r for r in staged if r in head and head[r] != staged[r])
        deleted = sorted(r for r in head if r not in staged)
        missing = sorted(r for r, e in index.items() if r not in files and e.status != idx.BARE)
        return StatusResult(et, name, new, modified, deleted, untracked, corrupted, missing)

    @locked
    @disk_errors("add")
    def add(
        self,
        entity_type_: str,
        name: str,
        bumpversion: bool = False,
        metrics: Mapping[str, Any] | None = None,
        metrics_file: str | os.PathLike[str] | None = None,
        paths: list[str] | None = None,
    ) -> VersionResult:
        """Stage the entity's changed files (only those under ``paths`` when given)."""
        et = entity_type(entity_type_)
        path, body = self._load(et, name)
        sampling.refuse_if_sampled(self._index_dir(et, name), et, name, "add")
        if "mutability" not in body and not (self.metadata(et).exists and self.metadata(et).tags(name)):
            raise SpecError(  # ML-Git: a new entity must say; one versioned before mutability existed is strict
                f"{specs.spec_file(path, name)}: expected a 'mutability' (strict, flexible or mutable) "
                "for a new entity; add it to the spec or create the entity with ml-git create"
            )
        mutability = body.get("mutability", "strict")
        values = self._metric_values(et, name, metrics, metrics_file)  # refused before anything is written
        index, _ = self._staged(et, name)
        wanted = [safe_relpath(p.strip("/"), "add FILE_PATH") for p in paths or []]
        files = scan(path, name)
        if wanted:
            files = {r: st for r, st in files.items() if under(r, wanted)}
        loaded, index = index, refresh(path, files, index)
        corrupted = [
            r
            for r, st in files.items()
            if r in index
            and changed_in_place(index[r], st, path / r, self._cache(et).path(index[r].cid))
            and mutability != "mutable"
            and index[r].status != idx.UNLOCKED
        ]
        if corrupted:
            raise MutabilityError(
                f"{et} {name} is {mutability}: {len(corrupted)} locked file(s) were changed in place "
                f"(first: {corrupted[0]}); restore them with checkout --force, or unlock them first (flexible)"
            )
        changed = [r for r, st in files.items() if r not in index or not index[r].matches(st)]
        staged = stage(
            path,
            changed,
            self._objects(et),
            None if mutability == "mutable" else self._cache(et),
            chunks=bool(self.config.get("write_chunks")),  # ours, only when set: ML-Git's push can run after
        )
        new_index: idx.Index = {
            rel: e
            for rel, e in index.items()
            if rel not in files and (e.status == idx.BARE or (wanted and not under(rel, wanted)))
        }
        for rel, st in files.items():
            if rel in staged:
                fo, st_after = staged[rel]
                new_index[rel] = idx.Entry.from_stat(fo.cid, st_after)
            elif index[rel].status == idx.UNLOCKED:
                new_index[rel] = idx.Entry(index[rel].cid, st.st_size, st.st_mtime_ns, st.st_ino, idx.ADDED)
            else:
                new_index[rel] = index[rel]
        if new_index != loaded or not (self._index_dir(et, name) / "INDEX.yaml").exists():
            self._save_staged(et, name, new_index)
        new_body = body
        if values is not None:
            new_body = specs.with_changes(new_body, metrics=values)
        if bumpversion:
            bumped = self._bumped_version(et, name, new_body, {rel: e.cid for rel, e in new_index.items()})
            if bumped != new_body["version"]:
                new_body = specs.with_changes(new_body, version=bumped)
        if new_body is not body:
            specs.save(specs.spec_file(path, name), et, new_body)
        return self._result(et, name, new_body, path, new_index, tag=None, sha=None)

    def _metric_values(
        self,
        et: str,
        name: str,
        metrics: Mapping[str, Any] | None,
        metrics_file: str | os.PathLike[str] | None,
    ) -> dict[str, float] | None:
        if not metrics and metrics_file is None:
            return None
        if et != "models":
            raise InvalidName(f"metrics: only models carry metrics, found {et} {name}")
        values = {str(k): to_metric(str(k), v, "--metric") for k, v in (metrics or {}).items()}
        if metrics_file is not None:
            if not str(metrics_file).strip():
                raise SpecError("--metrics-file: expected a path to a CSV file, found an empty value")
            values.update(read_metrics_file(Path(metrics_file)))
        return values

    def _bumped_version(self, et: str, name: str, body: dict[str, Any], staged: mf.Manifest) -> int:
        """``--bumpversion``, safe to retry: the spec's version is bumped only when a tag already
        holds it with other content; a version not tagged yet (a bump whose commit never ran), or
        tagged with exactly this content (a retried add after its commit), is kept."""
        version = int(body["version"])
        md = self.metadata(et)
        tag = make_tag([str(c) for c in body["categories"]], name, version)
        if not md.exists or not md.has_tag(tag):
            return version
        old_body, old_manifest, _, _ = self._read_version(et, tag, name)
        if old_manifest == staged and (old_body.get("metrics") or {}) == (body.get("metrics") or {}):
            return version
        return max(version + 1, self._next_version(et, name))

    def _result(
        self,
        et: str,
        name: str,
        body: dict[str, Any],
        path: Path,
        index: Mapping[str, Any] | mf.Manifest,
        tag: str | None,
        sha: str | None,
        **extra: Any,
    ) -> VersionResult:
        sizes = extra.pop("size", None)
        if sizes is None:
            sizes = sum(getattr(e, "size", 0) for e in index.values())
        return VersionResult(
            entity_type=et,
            name=name,
            version=int(body["version"]),
            tag=tag,
            sha=sha,
            path=str(path),
            files=len(index),
            size=int(sizes),
            metrics={k: float(v) for k, v in (body.get("metrics") or {}).items()},
            dataset=_link(body.get("dataset")),
            labels=_link(body.get("labels")),
            **extra,
        )

    # -- commit ------------------------------------------------------------------------------
    def _resolve_link(self, kind: str, ref: LinkArg) -> Link | None:
        if ref is None or ref == "":
            return None
        if isinstance(ref, Link):
            return ref
        if isinstance(ref, Mapping):
            try:
                return Link(str(ref["tag"]), str(ref["sha"]))
            except KeyError:
                raise InvalidName(
                    f"--{kind}: expected a mapping with 'tag' and 'sha', found {dict(ref)!r}"
                ) from None
        ref = str(ref)
        et = "datasets" if kind == "dataset" else "labels"
        if parse_tag(ref) is not None:
            md = self.metadata(et)
            if not md.has_tag(ref):
                md.fetch()
            return Link(ref, md.tag_sha(ref))
        check_name(ref, f"--{kind}")
        head = self._head(et, ref)
        if head is None:
            raise EntityNotFound(
                f"--{kind}={ref}: expected a checked-out {et[:-1] if et != 'labels' else 'labels'} {ref!r} in this workspace "
                f"(run ml-git {et} checkout {ref}) or a tag such as cat__{ref}__1; found none"
            )
        return Link(*head)

    @locked
    @disk_errors("commit")
    def commit(
        self,
        entity_type_: str,
        name: str,
        message: str | None = None,
        version: int | None = None,
        dataset: LinkArg = None,
        labels: LinkArg = None,
        auto_bump: bool = False,
    ) -> VersionResult:
        et = entity_type(entity_type_)
        path, body = self._load(et, name)
        sampling.refuse_if_sampled(self._index_dir(et, name), et, name, "commit")
        index, staged = self._staged(et, name)
        if not (self._index_dir(et, name) / "MANIFEST.yaml").exists():
            raise NothingToCommit(
                f'Nothing to commit (create/add files and use "ml-git {et} add" command to track them): '
                f"{et} {name} has nothing staged"
            )
        if version is not None:
            if isinstance(version, bool) or int(version) < 1:
                raise SpecError(f"--version: expected a positive integer, found {version!r}")
            body = specs.with_changes(body, version=int(version))
        links = {
            "dataset": self._resolve_link("dataset", dataset),
            "labels": self._resolve_link("labels", labels),
        }
        for kind, link in links.items():
            if link is not None:
                warn_if_unpushed(self.metadata("datasets" if kind == "dataset" else "labels"), link)
        md = self.metadata(et)
        md.fetch()
        previous = md.tags(name)
        if previous:
            before = self._read_version(et, previous[-1], name)[0].get("mutability", "strict")
            if before != body.get("mutability", "strict"):
                raise MutabilityError(
                    f"{et} {name}: mutability cannot change between versions "
                    f"(was {before} in {previous[-1]}, found {body.get('mutability')} in the spec)"
                )
        folder = path.relative_to(self.root / et).as_posix()
        size = sum(e.size for e in index.values())
        while True:
            cats, _, ver = specs.tag_parts(body)
            tag = make_tag(cats, name, ver)
            new_body = specs.with_changes(
                body,
                manifest={
                    **body["manifest"],
                    "files": "MANIFEST.yaml",
                    "size": specs.natural_size(size),
                    "amount": len(staged),
                },
                **{k: {"tag": v.tag, "sha": v.sha} for k, v in links.items() if v is not None},
            )
            if not md.has_tag(tag):
                break
            old_body, old_manifest, _, sha = self._read_version(et, tag, name)
            if old_manifest == staged and _same_version(old_body, new_body):
                self._set_head(et, name, tag, sha)
                return self._result(et, name, old_body, path, index, tag, sha, created=False)
            if not auto_bump:
                raise VersionConflict(
                    f"{et} {name}: version {ver} is already tagged {tag} with other content; "
                    f"use add --bumpversion or commit --version={self._next_version(et, name)}"
                )
            body = specs.with_changes(body, version=self._next_version(et, name))
        files = {f"{name}.spec": specs.dumps(et, new_body), "MANIFEST.yaml": mf.dumps(staged)}
        for extra in (README, IGNORE_FILE):  # ML-Git versions .mlgitignore with the spec
            if (path / extra).is_file():
                label = "README" if extra == README else extra
                files[extra] = read_bounded(path / extra, label, SpecError, MAX_SMALL)
        msg = message or "/".join([*cats, name])
        sha = md.commit_entity(folder, files, msg, tag)
        if new_body["version"] != specs.load(specs.spec_file(path, name), et, name)["version"]:
            specs.save(specs.spec_file(path, name), et, specs.with_changes(body, version=new_body["version"]))
        self._set_head(et, name, tag, sha)
        return self._result(et, name, new_body, path, index, tag, sha)

    def _next_version(self, et: str, name: str) -> int:
        versions = [parse_tag(t)[2] for t in self.metadata(et).tags(name)]  # type: ignore[index]
        return max(versions, default=0) + 1

    # -- push / update ----------------------------------------------------------------------
    @locked
    def push(
        self,
        entity_type_: str,
        name: str,
        progress: Progress | None = None,
        fail_limit: int | None = None,
        auto_bump: bool = False,
    ) -> VersionResult:
        """Upload the data of every unpushed version on the branch, then push the metadata.

        When another worker pushed the same version number first, our commit of it is taken off
        the branch and ``VersionConflict`` is raised; with ``auto_bump`` the staged data is
        committed again under the next free version (same message, links and metrics) and pushed.
        """
        et = entity_type(entity_type_)
        for _attempt in range(20):
            head = self._head(et, name)
            if head is None:
                return self._push_once(et, name, progress, fail_limit)  # raises NothingToCommit
            body, _, _, sha = self._read_version(et, head[0], name)
            message = self.metadata(et).git("log", "-1", "--format=%B", sha)
            try:
                return self._push_once(et, name, progress, fail_limit)
            except VersionConflict as exc:
                if head[0] not in exc.tags:
                    raise
                self._head_file(et, name).unlink()  # our version is not a version: nothing is checked out
                if not auto_bump:
                    raise
                log.info(
                    "%s %s: %s was taken by another worker; committing the next free version",
                    et,
                    name,
                    head[0],
                )
                self.commit(
                    et,
                    name,
                    message=message,
                    dataset=_link(body.get("dataset")),
                    labels=_link(body.get("labels")),
                    auto_bump=True,
                )
        raise VersionConflict(f"{et} {name}: no free version found after 20 attempts")

    def _push_once(
        self, et: str, name: str, progress: Progress | None, fail_limit: int | None
    ) -> VersionResult:
        path, body = self._load(et, name)
        md = self.metadata(et)
        head = self._head(et, name)
        if head is None:
            raise NothingToCommit(
                f"{et} {name}: no committed version to push; run ml-git {et} commit {name} first"
            )
        if not md.remote_url():
            raise MetadataError(
                f"Remote URL not found. {et}: no metadata remote to push to; "
                f"run: ml-git repository remote {et} add URL"
            )
        # every unpushed version on the branch becomes visible with this push: send all their data
        tags = md.unpushed_tags()
        objects = self._objects(et)
        source = LocalObjects(objects, self._cache(et))
        uploaded = skipped = 0
        manifest: mf.Manifest = {}
        for tag in tags:
            vbody, manifest, _, _ = self._read_version(et, tag, str(parse_tag(tag)[1]))  # type: ignore[index]
            keys: set[str] = set()
            for cid in set(manifest.values()):
                keys.add(cid)
                if objects.exists(cid):  # absent after a --bare checkout: then the storage must have it
                    keys.update(source.register(cid))
            storage = self._storage(vbody["manifest"]["storage"])
            try:
                report = upload(
                    storage,
                    source,
                    keys,
                    threads=int(self.config["push_threads_count"]),
                    progress=progress,
                    fail_limit=fail_limit,
                )
            finally:
                storage.close()
            uploaded += len(report.done)
            skipped += report.skipped
        if tags:
            md.push(tags)
        tag = head[0]
        vbody, manifest, _, sha = self._read_version(et, tag, name)
        self._set_head(et, name, tag, sha)
        index, _ = self._staged(et, name)
        return self._result(
            et,
            name,
            vbody,
            path,
            manifest,
            tag,
            sha,
            created=bool(tags),
            uploaded=uploaded,
            skipped=skipped,
            size=sum(e.size for e in index.values()),
        )

    @locked
    def update(self, entity_type_: str | None = None, require_remote: bool = False) -> None:
        types = [entity_type(entity_type_)] if entity_type_ else list(cfg.ENTITY_TYPES)
        for et in types:
            if require_remote and not (self.config.get(et) or {}).get("git"):
                raise MetadataError(
                    f"Remote URL not found. Could not update metadata: no {et}.git in "
                    f"{cfg.config_path(self.root)}"
                )
            md = self.metadata(et)
            if md.exists:
                md.update()
            elif entity_type_:
                md.init(str(self.config[et].get("git") or ""))

    # -- checkout ------------------------------------------------------------------------------
    def _resolve_ref(self, et: str, ref: str, version: int | None) -> tuple[str, str]:
        md = self.metadata(et)
        ref = str(ref)
        for attempt in (0, 1):
            if attempt:
                md.fetch()
            if version is not None:
                check_name(ref)
                tags = [t for t in md.tags(ref) if parse_tag(t)[2] == int(version)]  # type: ignore[index]
                if tags:
                    return tags[-1], ref
            elif parse_tag(ref) is not None and md.has_tag(ref):
                return ref, parse_tag(ref)[1]  # type: ignore[index]
            elif parse_tag(ref) is None:
                check_name(ref)
                tags = md.tags(ref)
                if tags:
                    return tags[-1], ref
        name = str(parse_tag(ref)[1]) if parse_tag(ref) and version is None else ref  # type: ignore[index]
        known = ", ".join(md.tags(name)) or "none"
        wanted = f"{ref} version {version}" if version is not None else ref
        raise TagNotFound(f"{et}: no version matches {wanted!r} in {md.path} (tags of {name}: {known})")

    @locked
    @disk_errors("checkout")
    def checkout(
        self,
        entity_type_: str,
        ref: str | Link | Mapping[str, str],
        version: int | None = None,
        bare: bool = False,
        force: bool = False,
        progress: Progress | None = None,
        fail_limit: int | None = None,
        sample: Sample | Mapping[str, Any] | None = None,
        fetch: bool = False,
    ) -> VersionResult:
        """Materialize a version. ``sample`` checks out a subset, chosen as ML-Git does
        (``mlgit.sampling``). ``fetch`` asks the remote first, so a name means the remote's latest
        (ML-Git's own checkout, and the default here, resolves from the local clone's tags)."""
        et = entity_type(entity_type_)
        if fetch:
            self.metadata(et).fetch()
        link = ref if isinstance(ref, Link) else _link(ref)  # a link {tag, sha}: checked against its tag
        tag, name = self._resolve_ref(et, link.tag if link else str(ref), version)
        if link is not None:
            verify_link(self.metadata(et), link, f"checkout of the link {link.tag}")
        body, manifest, folder, sha = self._read_version(et, tag, name)
        listed = len(manifest)  # the whole version's, which the spec's manifest.amount declares
        if sample is not None:
            manifest = sampling.apply(sample, manifest, tag)
        folder = safe_relpath(folder, f"{tag}: entity folder")
        dest = self.root / et / folder
        _refuse_symlinked_parents(self.root, dest)
        checked: set[Path] = set()  # each folder is looked at once, not once per file under it
        for rel in manifest:
            _refuse_symlinked_parents(self.root, dest / rel, checked)
        current = find_entity(self.root / et, name)
        if current is not None and not force:
            st = self.status(et, name)
            # after a sampled checkout, the files left out are not deletions of the user's
            deleted = [] if sampling.is_sampled(self._index_dir(et, name)) else st.deleted
            dirty = st.corrupted + st.untracked + st.missing + st.new + st.modified + deleted
            if self._head(et, name) is None:  # never versioned here: what create wrote is replaced
                dirty = [d for d in dirty if not _created_metadata(current, d, name)]
            if dirty:
                raise LocalChanges(
                    f"{et} {name}: checkout of {tag} would overwrite {len(dirty)} local change(s) in {current} "
                    f"(first: {dirty[0]}); commit them, or checkout with --force"
                )
        old_index, _ = self._staged(et, name)
        mutability = body.get("mutability", "strict")
        objects, cache = self._objects(et), self._cache(et)
        for folder_ in (self.root / TMP_DIR, cache.root):  # what a checkout killed mid-way left behind
            if folder_.is_dir():
                remove_stale_temps(folder_)
        new_index: idx.Index = {}
        jobs: dict[str, tuple[str, Path]] = {}
        for rel, cid in sorted(manifest.items()):
            old = old_index.get(rel)
            if bare:
                new_index[rel] = idx.Entry(cid, 0, 0, 0, idx.BARE)
            elif old is not None and old.cid == cid and idx.matches_file(dest / rel, old):
                new_index[rel] = old
            else:
                jobs[rel] = (cid, dest / rel)
        downloaded = skipped = 0
        if jobs:
            need = {cid for cid, _ in jobs.values() if mutability == "mutable" or not cache.exists(cid)}
            threads = int(self.config["push_threads_count"])
            storage = self._storage(body["manifest"]["storage"]) if need else None
            try:
                if storage is not None:
                    rep = download(storage, objects, need, threads, progress, fail_limit)  # descriptors
                    downloaded, skipped = len(rep.done), rep.skipped
                pushed = is_pushed(self.metadata(et), sha)
                shared = self._shared_dir(et, "cache_path") is not None  # run folders: never linked writable
                builder = Builder(objects, cache, mutability, storage, self.root / TMP_DIR, pushed, shared)
                check_bounds(builder, tag, body, listed, jobs, dest)
                dest.mkdir(parents=True, exist_ok=True)
                stats = build_all(builder, jobs, threads, progress, fail_limit)
            finally:
                if storage is not None:
                    storage.close()
            downloaded += builder.fetched
            for rel, (cid, target) in jobs.items():
                new_index[rel] = idx.Entry.from_stat(cid, stats[rel])
                if mutability != "mutable":
                    mark_staged(str(target))  # an edit in place is told from a new file (verbs/changes.py)
        dest.mkdir(parents=True, exist_ok=True)
        for rel in old_index:
            if rel not in manifest and (dest / rel).exists():
                (dest / rel).unlink()
        md = self.metadata(et)
        atomic_write(specs.spec_file(dest, name), md.show(tag, f"{folder}/{name}.spec"))
        in_tag = set(md.files(tag))
        for extra in (README, IGNORE_FILE):
            if f"{folder}/{extra}" in in_tag:
                atomic_write(dest / extra, md.show(tag, f"{folder}/{extra}"))
        self._save_staged(et, name, new_index)
        sampling.mark(self._index_dir(et, name), sample)
        self._set_head(et, name, tag, sha)
        size = sum(e.size for e in new_index.values())
        return self._result(
            et, name, body, dest, manifest, tag, sha, size=size, downloaded=downloaded, skipped=skipped
        )

    # -- integrity ------------------------------------------------------------------------------
    @locked
    def fsck(self, entity_type_: str, fix: bool = True) -> FsckResult:
        """Verify every local object, cached file and locked workspace file; repair what can be repaired."""
        from .fsck import fsck

        et = entity_type(entity_type_)
        if not self.metadata(et).exists:
            raise MetadataError(
                f"The {et} doesn't have been initialized (no {self.metadata(et).path}); run: ml-git {et} init"
            )
        return fsck(self, et, fix)

    @locked
    def unlock(self, entity_type_: str, name: str, file: str) -> Path:
        """Make one file of a flexible entity editable (a private copy, no longer the cache's inode)."""
        et = entity_type(entity_type_)
        path, body = self._load(et, name)
        mutability = body.get("mutability", "strict")
        if mutability == "strict":
            raise MutabilityError(
                f"{et} {name} is strict: its files cannot be unlocked (create a flexible or mutable entity)"
            )
        rel = safe_relpath(file, "unlock")
        index, _ = self._staged(et, name)
        target = path / rel
        if rel not in index or not target.is_file():
            raise EntityNotFound(f"unlock: {rel!r} is not a tracked file of {et} {name} (in {path})")
        if mutability == "flexible":
            tmp = Path(temp_name(temp_folder_for(target.parent, self.root / TMP_DIR), target.name))
            shutil.copyfile(target, tmp)
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        index[rel] = idx.Entry.from_stat(index[rel].cid, target.stat(), idx.UNLOCKED)
        self._save_staged(et, name, index)
        return target

    # -- reading the metadata -----------------------------------------------------------------
    def entities(self, entity_type_: str) -> list[str]:
        """Folders (relative to the type folder) of every entity in the metadata repository."""
        et = entity_type(entity_type_)
        md = self.metadata(et)
        return sorted(
            p.rsplit("/", 1)[0]
            for p in md.files()
            if p.endswith(".spec") and p.rsplit("/", 1)[-1][:-5] == p.rsplit("/", 1)[0].rsplit("/", 1)[-1]
        )

    def tags(self, entity_type_: str, name: str, fetch: bool = False) -> list[str]:
        """Version tags of ``name``, oldest first. ``fetch``: the versions on the remote only (fetched,
        so they can be read; the branch and the workspace do not move, unlike ``update``)."""
        et = entity_type(entity_type_)
        check_name(name)
        md = self.metadata(et)
        if fetch and md.remote_url():
            with self.workspace_lock.hold("fetch"):
                md.fetch()
            remote = md.remote_tags()
            return [t for t in md.tags(name) if t in remote]
        return md.tags(name)

    def branch(self, entity_type_: str, name: str) -> tuple[str, str] | None:
        et = entity_type(entity_type_)
        check_name(name)
        return self._head(et, name)

    def show(self, entity_type_: str, name: str) -> dict[str, Any]:
        et = entity_type(entity_type_)
        check_name(name)
        head = self._head(et, name)
        tags = self.metadata(et).tags(name)
        ref = head[0] if head else (tags[-1] if tags else None)
        if ref is not None:
            return self._read_version(et, ref, name)[0]
        return self._load(et, name)[1]

    def log(self, entity_type_: str, name: str) -> str:
        et = entity_type(entity_type_)
        check_name(name)
        md = self.metadata(et)
        spec_path = md.find_spec(name)
        if spec_path is None:
            raise EntityNotFound(f"{et} {name}: not in the metadata repository {md.path}")
        return md.log(spec_path.rsplit("/", 1)[0])

    def metrics(self, entity_type_: str, name: str) -> dict[str, dict[str, float]]:
        et = entity_type(entity_type_)
        tags = self.tags(et, name)
        if not tags:
            raise EntityNotFound(
                f"{et} {name}: no version in the metadata repository {self.metadata(et).path}"
            )
        return {
            t: {k: float(v) for k, v in (self._read_version(et, t, name)[0].get("metrics") or {}).items()}
            for t in tags
        }

    def lineage(self, entity_type_: str, ref: str) -> Lineage:
        """A version and every dataset/labels version it was linked to, recursively."""
        et = entity_type(entity_type_)
        if parse_tag(str(ref)) is None:
            head = self._head(et, str(ref))
            tag = head[0] if head else self._resolve_ref(et, str(ref), None)[0]
        else:
            tag = str(ref)
        return walk_lineage(
            self._node(et, tag),
            self._node,
            lambda kind, link, owner: verify_link(self.metadata(kind), link, owner),
        )

    def _node(self, et: str, tag: str) -> LineageNode:
        md = self.metadata(et)
        if not md.exists:
            raise MetadataError(f"{et} metadata repository not initialized (run ml-git {et} init)")
        if not md.has_tag(tag):
            md.fetch()
        body, _, _, sha = self._read_version(et, tag)
        return LineageNode(
            et,
            str(body["name"]),
            tag,
            sha,
            int(body["version"]),
            {k: float(v) for k, v in (body.get("metrics") or {}).items()},
            _link(body.get("dataset")),
            _link(body.get("labels")),
        )

    # -- ML-Git's other verbs (mlgit/verbs/) ---------------------------------------------------
    @locked
    def fetch(
        self,
        entity_type_: str,
        ref: str,
        version: int | None = None,
        progress: Progress | None = None,
        sample: Sample | Mapping[str, Any] | None = None,
    ) -> tuple[str, int]:
        """Download a version's objects into the local store, workspace untouched: (tag, objects fetched)."""
        from .verbs.fetch import fetch

        return fetch(self, entity_type(entity_type_), ref, version, progress, sample)

    @locked
    def reset(self, entity_type_: str, name: str, mode: str = "hard", reference: str = "head") -> str | None:
        """ML-Git's reset (soft/mixed/hard, head or head~1); returns the tag checked out afterwards."""
        from .verbs.reset import reset

        return reset(self, entity_type(entity_type_), name, mode, reference)

    @locked
    def tag_add(self, entity_type_: str, name: str, tag: str) -> str:
        from .verbs.tag import tag_add

        return tag_add(self, entity_type(entity_type_), name, tag)

    def diff(
        self, entity_type_: str, name: str, first: str, second: str
    ) -> tuple[list[str], list[str], list[str]]:
        """(added, updated, deleted) paths between two versions of ``name``."""
        from .verbs.history import diff

        return diff(self, entity_type(entity_type_), name, first, second)

    def export(self, entity_type_: str, tag: str, bucket: str, **options: Any) -> int:
        """Copy a version's objects to another bucket; returns the objects written."""
        from .verbs.export import export

        return export(self, entity_type(entity_type_), tag, bucket, **options)

    @locked
    def import_files(self, entity_type_: str, bucket: str, entity_dir: str, **options: Any) -> list[str]:
        """Copy plain files from a bucket into ``<type>/entity_dir``; returns the paths written."""
        from .verbs.importer import import_files

        return import_files(self, entity_type(entity_type_), bucket, entity_dir, **options)

    @locked
    def remote_fsck(
        self, entity_type_: str, name: str, thorough: bool = False, fix: bool = True
    ) -> RemoteFsckResult:
        """Check that the storage holds every object of every version of ``name``; re-upload what it lacks."""
        from .remote_fsck import remote_fsck

        return remote_fsck(self, entity_type(entity_type_), name, thorough, fix)


def _created_metadata(folder: Path, rel: str, name: str) -> bool:
    """The spec and the empty README ``create`` wrote: ML-Git's checkout overwrites them."""
    if rel == f"{name}.spec":
        return True
    return rel == README and (folder / README).is_file() and (folder / README).stat().st_size == 0


def _link(value: Any) -> Link | None:
    if isinstance(value, Mapping) and "tag" in value and "sha" in value:
        return Link(str(value["tag"]), str(value["sha"]))
    return None


def _same_version(a: dict[str, Any], b: dict[str, Any]) -> bool:
    keys = ("version", "metrics", "dataset", "labels", "categories", "mutability")
    return all(a.get(k) == b.get(k) for k in keys)


def _refuse_symlinked_parents(root: Path, target: Path, checked: set[Path] | None = None) -> None:
    """Refuse a destination reached through a symlink: nothing outside the workspace is written.
    Folders in ``checked`` were looked at already (one checkout); those looked at here are added."""
    current = root
    for part in target.relative_to(root).parts:
        current = current / part
        if checked is not None and current in checked:
            continue
        if checked is not None and current != target:
            checked.add(current)
        if current.is_symlink():
            raise UnsafePath(
                f"{current} is a symlink; refusing to write through it (expected a folder inside {root})"
            )


__all__ = ["Repository", "MUTABILITIES", "parse_categories"]
