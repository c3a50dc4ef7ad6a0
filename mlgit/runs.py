"""Run workspaces: one folder per pipeline run under a per-host root, sharing what is safe to share.

::

    <root>/cache/<type>/ , <root>/objects/<type>/   shared: content-addressed, atomic writes
    <root>/mirror/<type>.git                        shared: a bare mirror of the metadata remote
    <root>/runs/<run key>/                          one per DAG run / flow run: config, metadata
                                                    clones (objects borrowed from the mirror), entities
    <root>/records/<run key>.json                   what each run made (tag, sha), kept after its folder

Tasks of one run share its folder (checkout -> train -> add -> commit -> push pass paths); runs never
see each other's files. A new run folder costs no re-download (the cache and objects are shared: a
checkout hardlinks from the cache) and no re-clone (``git clone --reference`` the mirror). The record
outlives the folder, so a task retried or cleared after its run finished returns the version its own
run made instead of committing another. Direct API/CLI users do not go through here: one workspace.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import config as cfg
from .atomic import atomic_write
from .errors import MetadataError, TagNotFound
from .gitsafe import check_remote_url, git_env, redact
from .locking import LOCK_NAME, PathLock
from .names import parse_tag
from .results import version_result

if TYPE_CHECKING:
    from .repository import Repository
    from .results import VersionResult

log = logging.getLogger(__name__)

RUN_FILE = "run.json"
#: A run folder whose state nobody can tell (a crashed worker, a deleted run) goes after this long idle.
STALE_AFTER = 7 * 24 * 3600.0
#: Failed runs stay this long for inspection (``keep_failed`` overrides it).
KEEP_FAILED = 3 * 24 * 3600.0
SWEEP_EVERY = 300.0

#: Airflow's / Prefect's run state, as the sweep needs it: "running", "success", "failed" or None (unknown)
StateOf = Callable[[Mapping[str, Any]], str | None]


def run_key(*parts: str) -> str:
    """A folder name for a run: readable, filesystem-safe, and unique (a hash of the exact parts)."""
    raw = "\0".join(str(p) for p in parts)
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", "--".join(str(p) for p in parts)).strip("._-")[:80]
    return f"{slug or 'run'}-{hashlib.sha256(raw.encode()).hexdigest()[:12]}"


@dataclass(frozen=True)
class RunFolder:
    """One run's workspace under a per-host root."""

    root: Path  # the per-host root
    key: str  # from run_key()
    info: Mapping[str, Any]  # what identifies the run to its orchestrator (dag_id + run_id, flow run id)

    @property
    def path(self) -> Path:
        return self.root / "runs" / self.key

    @property
    def record_file(self) -> Path:
        return self.root / "records" / f"{self.key}.json"

    # -- what the run made ------------------------------------------------------------------
    def _records(self) -> dict[str, Any]:
        try:
            data = json.loads(self.record_file.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def recorded(
        self, verb: str, entity_type: str, name: str, step: str | None = None
    ) -> dict[str, Any] | None:
        """``{tag, sha, ...}`` that ``verb`` of this run made for the entity (in task ``step``, or in
        any task when None: the latest), or None."""
        prefix = f"{verb}:{entity_type}/{name}:"
        found = [
            v
            for k, v in self._records().items()
            if (k == prefix + (step or "") if step is not None else k.startswith(prefix))
            and isinstance(v, dict)
            and v.get("tag")
            and v.get("sha")
        ]
        return max(found, key=lambda v: float(v.get("at") or 0)) if found else None

    def remember(self, verb: str, entity_type: str, name: str, step: str = "", **values: Any) -> None:
        """Record what ``verb`` made (``tag``, ``sha``) for this run, under the host's records lock."""
        with PathLock(self.root / "records" / LOCK_NAME, f"run records in {self.root}").hold("remember"):
            data = self._records()
            data[f"{verb}:{entity_type}/{name}:{step}"] = {**values, "at": time.time()}
            atomic_write(self.record_file, json.dumps(data, indent=1, sort_keys=True).encode())

    def commit_made(
        self, repo: Repository, entity_type: str, name: str, trailers: Mapping[str, str]
    ) -> dict[str, Any] | None:
        """The version this run's commit made: this host's record, else a version on the metadata
        whose commit carries the run's ``trailers`` (a rerun or a cleared task on another host),
        recorded here as found (``created: False``, ``remote: True``). None: the run made none yet."""
        made = self.recorded("commit", entity_type, name)
        if made is not None:
            return made
        tag = version_made_by(repo, entity_type, name, trailers)
        if tag is None:
            return None
        sha = repo.metadata(entity_type).tag_sha(tag)
        self.remember("commit", entity_type, name, "found", tag=tag, sha=sha, created=False, remote=True)
        return self.recorded("commit", entity_type, name)

    def push_made(self, entity_type: str, name: str, step: str | None = None) -> dict[str, Any] | None:
        """What this run's push made (in ``step``): its record, or a version this run made that another
        host already pushed (found on the metadata by ``commit_made``): nothing left to push."""
        made = self.recorded("push", entity_type, name, step)
        if made is None:
            committed = self.recorded("commit", entity_type, name)
            if committed is not None and committed.get("remote"):
                return committed
        return made

    # -- state for the retention sweep -------------------------------------------------------
    def _touch(self) -> None:
        body = {"key": self.key, "run": dict(self.info), "pid": os.getpid(), "used": time.time()}
        atomic_write(self.path / cfg.MLGIT_DIR / RUN_FILE, json.dumps(body, sort_keys=True).encode())


def shared_dirs(root: Path, entity_type: str) -> dict[str, str]:
    """The config keys (ML-Git's centralized cache/objects) that point a run at the host's shared stores."""
    return {
        "cache_path": str(root / "cache" / entity_type),
        "objects_path": str(root / "objects" / entity_type),
    }


def _git(*args: str, cwd: Path | None = None) -> str:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", **git_env()}  # no code-running transport
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise MetadataError(
            f"git {args[0]} {' '.join(args[1:3])} failed: {redact(' '.join(proc.stderr.split())[:400])}"
        )
    return proc.stdout


def update_mirror(root: Path, entity_type: str, url: str) -> Path:
    """The host's bare mirror of ``url``, created or fetched (one process at a time). Never pruned:
    run clones borrow its objects through alternates."""
    check_remote_url(url, f"{entity_type} remote of the run folders in {root}")  # never an option or ext::
    mirror = root / "mirror" / f"{entity_type}.git"
    with PathLock(root / "mirror" / f"{entity_type}.lock", f"mirror {mirror}").hold("fetch"):
        if (mirror / "HEAD").is_file() and _git(
            "config", "--get", "remote.origin.url", cwd=mirror
        ).strip() == url:
            _git("fetch", "--quiet", "--force", "origin", cwd=mirror)
        else:
            if mirror.exists():
                shutil.rmtree(mirror)
            _git("clone", "--quiet", "--mirror", url, str(mirror))
            _git("config", "gc.auto", "0", cwd=mirror)  # alternates of live runs point here
    return mirror


def prepare(
    root: str | os.PathLike[str],
    key: str,
    remotes: Mapping[str, str],
    info: Mapping[str, Any] | None = None,
) -> RunFolder:
    """Create (first task of a run) or reuse (later tasks, retries) the run's folder: config with the
    shared cache/objects, metadata clones that borrow the mirror's objects, each fetched once per run.
    The caller then opens it as a ``Repository`` and adds its storages (idempotent)."""
    from .repository import Repository

    host = Path(root).expanduser().resolve()
    run = RunFolder(host, key, dict(info or {}))
    folder = run.path
    if not cfg.config_path(folder).is_file():
        folder.mkdir(parents=True, exist_ok=True)
        Repository.init(folder)
    repo = Repository(folder)
    with repo.workspace_lock.hold("prepare"):

        def apply(data: dict[str, Any]) -> None:
            for et, url in remotes.items():
                data[et] = {**(data.get(et) or {}), "git": str(url), **shared_dirs(host, et)}

        data = cfg.load_local(folder)
        before = copy.deepcopy(data)
        apply(data)
        if data != before:  # the first task of the run; later ones find it written
            cfg.save(folder, data)
        for et, url in remotes.items():
            clone = folder / cfg.MLGIT_DIR / et / "metadata"
            if (clone / ".git").exists():
                continue  # fetched when the run started: "latest" stays the same for the whole run
            mirror = update_mirror(host, et, str(url))
            clone.parent.mkdir(parents=True, exist_ok=True)
            _git("clone", "--quiet", "--reference", str(mirror), str(url), str(clone))
            try:
                _git("rev-parse", "--verify", "-q", "HEAD", cwd=clone)
            except MetadataError:  # an empty remote: start the branch ML-Git uses
                _git("symbolic-ref", "HEAD", "refs/heads/master", cwd=clone)
        run._touch()
    return run


def create_or_reuse(
    repo: Repository,
    entity_type: str,
    name: str,
    exist_ok: bool = True,
    fetch: bool = True,
    **create_args: Any,
) -> dict[str, Any]:
    """What a pipeline's "create" does: the entity as this workspace has it; else, when the remote has
    versions of it, its latest version checked out (the next version extends it instead of starting
    from an empty folder and dropping every earlier file); else a new spec. The result says which:
    ``{entity_type, name, path, version, storage, created, checked_out}``. ``fetch=False`` in a run
    folder: its clones were fetched when the run started."""
    from .errors import EntityNotFound, InvalidName

    checked_out = None
    try:
        path = repo.entity_path(entity_type, name)
        created = False
        if not exist_ok:
            raise InvalidName(f"{entity_type} {name} already exists at {path} (exist_ok=False)")
    except EntityNotFound:
        tags = repo.tags(entity_type, name, fetch=fetch)
        if tags and exist_ok:
            res = repo.checkout(entity_type, tags[-1])
            path, created, checked_out = Path(res.path), False, res.tag
            log.info(
                "%s %s: already versioned; checked out its latest version %s", entity_type, name, res.tag
            )
        else:
            path, created = repo.create(entity_type, name, **create_args), True
    spec = repo.show(entity_type, name)
    return {
        "entity_type": entity_type,
        "name": name,
        "path": str(path),
        "version": int(spec.get("version", 1)),
        "storage": str((spec.get("manifest") or {}).get("storage", "")),
        "created": created,
        "checked_out": checked_out,
    }


def result_of(repo: Repository, entity_type: str, name: str, tag: str, **extra: Any) -> VersionResult:
    """The version ``tag`` as a result (what a retry returns), read from the metadata; ``TagNotFound``
    when this workspace does not know it even after a fetch."""
    md = repo.metadata(entity_type)
    if not md.has_tag(tag):
        md.fetch()
    body, manifest, folder, sha = repo.store.read_version(entity_type, tag, name)
    path = repo.root / entity_type / folder
    return version_result(entity_type, name, body, path, manifest, tag, sha, size=0, **extra)


def version_made_by(repo: Repository, entity_type: str, name: str, trailers: Mapping[str, str]) -> str | None:
    """The newest tag of ``name`` whose commit message carries every ``key: value`` trailer: the version
    a run made, found through the metadata remote by any host (a host's run records are its own: a
    rerun or a cleared task may land on another host). None when no version carries them."""
    md = repo.metadata(entity_type)
    tags = set(md.tags(name))
    want = {f"{k}: {v}" for k, v in trailers.items()}
    if not tags or not want:
        return None
    out = md.git("for-each-ref", "--format=%(refname:strip=2)%00%(*contents)%1e", "refs/tags/")
    found = []
    for record in out.split("\x1e"):
        tag, _, body = record.strip("\n").partition("\x00")
        if tag in tags and want <= {line.strip() for line in body.splitlines()}:
            found.append(tag)
    return max(found, key=lambda t: parse_tag(t)[2]) if found else None  # type: ignore[index]


def dropped_files(repo: Repository, entity_type: str, name: str, tag: str) -> list[str]:
    """Files the version before ``tag`` had and ``tag`` does not (a version built on an empty folder)."""
    parsed = parse_tag(tag)
    if parsed is None:
        return []
    older = [t for t in repo.metadata(entity_type).tags(name) if parse_tag(t)[2] < parsed[2]]  # type: ignore[index]
    if not older:
        return []
    try:
        before = repo.store.read_version(entity_type, older[-1], name)[1]
        now = repo.store.read_version(entity_type, tag, name)[1]
    except TagNotFound:
        return []
    return sorted(set(before) - set(now))


def sweep(
    root: str | os.PathLike[str],
    state_of: StateOf,
    keep_failed: float = KEEP_FAILED,
    stale_after: float = STALE_AFTER,
    force: bool = False,
) -> list[str]:
    """Remove run folders of finished runs: succeeded at once, failed after ``keep_failed`` seconds,
    unknown after ``stale_after`` idle. A folder in use (its workspace lock held) is never touched.
    Runs at most every few minutes per host unless ``force``. Returns the keys removed."""
    host = Path(root).expanduser().resolve()
    runs = host / "runs"
    stamp = runs / ".swept"
    if not runs.is_dir() or (
        not force and stamp.exists() and time.time() - stamp.stat().st_mtime < SWEEP_EVERY
    ):
        return []
    stamp.touch()
    removed = []
    for folder in sorted(runs.iterdir()):
        if folder.name.startswith(".") or not folder.is_dir():
            continue
        try:
            body = json.loads((folder / cfg.MLGIT_DIR / RUN_FILE).read_text())
        except (OSError, ValueError):
            body = {}
        idle = time.time() - float(body.get("used") or folder.stat().st_mtime)
        try:
            state = state_of(body.get("run") or {})
        except Exception as exc:  # an orchestrator that does not answer: keep the folder, say why
            log.info("run folder %s: state unknown (%s); kept", folder.name, exc)
            continue
        if not (
            state == "success"
            or (state == "failed" and idle > keep_failed)
            or (state is None and idle > stale_after)
        ):
            continue
        lock = PathLock(folder / cfg.MLGIT_DIR / LOCK_NAME, f"run folder {folder}", timeout=0)
        if not lock.try_hold():
            continue
        trash = runs / f".trash-{folder.name}-{os.getpid()}"
        try:
            os.replace(folder, trash)
        finally:
            lock.release()
        shutil.rmtree(trash, ignore_errors=True)
        log.info("run folder %s removed (run %s)", folder.name, state or "unknown, idle")
        removed.append(folder.name)
    return removed
