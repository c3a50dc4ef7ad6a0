"""Untrusted data, objects and input (issue 9, data half).

Built as an attacker would: a bucket folder written with plain file writes (``local://`` storage),
a metadata remote written with plain git commands; then the victim's ordinary CLI/API use. Each
case ends in one MLGitError subclass naming the key/path and what was expected, exit 1 at the CLI,
nothing written outside the workspace, in bounded time (a subprocess with a timeout) and memory
(the victim runs under RLIMIT_AS).
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers import Cli, Project, make_project, write
from security_helpers import publish

from mlgit import ConfigError, MLGitError, SpecError, UnsafePath
from mlgit import index as idx
from mlgit.cid import BLOCK_SIZE, cid_of, descriptor_bytes
from mlgit.errors import DescriptorError, DiskFull, InputFileError, InvalidKey, LocalChanges, TooLarge
from mlgit.objects import HashFS
from mlgit.storage.local import LocalStorage
from mlgit.transfer import fetch_verified

ROOT = os.geteuid() == 0
#: address space of a victim process: python + git + 10 transfer threads fit well under it
MEMORY = 1024 * 1024 * 1024
VICTIM = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
from mlgit.cli import main
main(sys.argv[1:])
"""


def victim(ws: Path, line: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``ml-git -C ws LINE`` in its own process, with bounded memory and time."""
    env = {**os.environ, "MALLOC_ARENA_MAX": "2"}
    code = VICTIM.format(limit=MEMORY)
    return subprocess.run(
        [sys.executable, "-c", code, "-C", str(ws), *line.split()],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=ws.parent,
    )


def attacker_push(remote: str, tmp: Path, files: dict[str, bytes], tag: str) -> None:
    """A version pushed with plain git by someone with push rights on the metadata remote."""
    work = tmp / f"attacker-{tag}"
    subprocess.run(["git", "clone", "-q", remote, str(work)], check=True, capture_output=True)
    for rel, data in files.items():
        write(work / rel, data)
    git = ["git", "-C", str(work)]
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "innocent update"], check=True)
    subprocess.run([*git, "tag", "-a", tag, "-m", tag], check=True)
    subprocess.run(
        [*git, "push", "-q", "origin", "HEAD:refs/heads/master", tag], check=True, capture_output=True
    )


def spec(name: str = "ds", mutability: str = "strict", **manifest: object) -> bytes:
    return yaml.safe_dump(
        {
            "dataset": {
                "name": name,
                "version": 1,
                "categories": ["cv"],
                "mutability": mutability,
                "manifest": {"storage": "local://bucket", "files": "MANIFEST.yaml", **manifest},
            }
        }
    ).encode()


def manifest(entries: dict[str, list[str]]) -> bytes:
    return "".join(
        f"{k}: !!set\n" + "".join(f"  {p}: null\n" for p in ps) for k, ps in entries.items()
    ).encode()


def plant_version(
    p: Project,
    tmp: Path,
    links: list[tuple[str, int]],
    paths: list[str],
    mutability: str = "strict",
    **declared: object,
) -> str:
    """A descriptor written into the bucket, and a version naming it pushed to the metadata remote."""
    desc = descriptor_bytes(links)
    key = cid_of(desc)
    (p.bucket / key).write_bytes(desc)
    attacker_push(
        p.remotes["datasets"],
        tmp,
        {"ds/ds.spec": spec(mutability=mutability, **declared), "ds/MANIFEST.yaml": manifest({key: paths})},
        "cv__ds__1",
    )
    return key


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(f): (f.stat().st_size, f.stat().st_mtime_ns) for f in folder.rglob("*") if f.is_file()}


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    d = tmp_path / "outside"
    write(d / "secret.txt", b"outside the workspace")
    return d


def data_files(p: Project) -> list[Path]:
    folder = p.root / "datasets"
    return [f for f in folder.rglob("*") if f.is_file() and f.suffix != ".spec"] if folder.exists() else []


# -- 1. chunk links are checked before they are used -------------------------------------------------
def _climb(target: str) -> str:
    """A chunk link that, used as hashfs/<l[5:7]>/<l[7:9]>/<l>, climbs to ``target`` (absolute)."""
    return "./../" + "../" * 40 + target.lstrip("/")


@pytest.mark.timeout(120)
@pytest.mark.parametrize("target", ["fifo", "/dev/zero"])
def test_chunk_link_used_as_a_path_is_refused_before_any_io(
    project: Project, second: Project, tmp_path: Path, outside: Path, target: str
) -> None:
    if target == "fifo":
        target = str(outside / "some" / "fifo")
        os.makedirs(os.path.dirname(target))
        os.mkfifo(target)
    link = _climb(target)
    good = os.urandom(100)
    (project.bucket / cid_of(good)).write_bytes(good)
    plant_version(
        project, tmp_path, [(cid_of(good), 100), (link, 100)], ["f.bin"], size="200 Bytes", amount=1
    )
    before = snapshot(outside)
    run = victim(second.root, "datasets checkout ds")
    assert run.returncode == 1, run.stderr
    assert "expected an object key (a CID" in run.stderr and "link 1" in run.stderr
    assert "internal error" not in run.stderr
    assert snapshot(outside) == before and data_files(second) == []


@pytest.mark.timeout(120)
def test_fifo_planted_in_the_bucket_under_a_chunk_key(
    project: Project, second: Project, tmp_path: Path
) -> None:
    chunk = os.urandom(100)
    os.mkfifo(project.bucket / cid_of(chunk))  # the bucket's writer can put anything under a key
    plant_version(project, tmp_path, [(cid_of(chunk), 100)], ["f.bin"], size="100 Bytes")
    run = victim(second.root, "datasets checkout ds")
    assert run.returncode == 1, run.stderr
    assert cid_of(chunk) in run.stderr and "expected a regular file" in run.stderr
    assert data_files(second) == []


@pytest.mark.parametrize(
    "key",
    [
        "../../outside/secret.txt",
        "/etc/passwd",
        "zdj7W/../../x",
        "",
        "a\nb",
        "zdj7W" + "0" * 44,
        cid_of(b"x") + "/",
        None,
        7,
    ],
)
def test_every_object_key_is_a_cid_before_any_io(tmp_path: Path, key: object) -> None:
    store, bucket = HashFS(tmp_path / "objects"), LocalStorage("b", tmp_path / "bucket")
    (tmp_path / "bucket").mkdir()
    k: str = key  # type: ignore[assignment]  # the hostile value, as it arrives from a file
    for call in (
        lambda: store.exists(k),
        lambda: store.get(k),
        lambda: store.put(k, b"x"),
        lambda: bucket.get(k),
        lambda: bucket.put(k, b"x"),
        lambda: bucket.exists(k),
        lambda: fetch_verified(bucket, k),
    ):
        with pytest.raises(InvalidKey, match="expected an object key"):
            call()
    index = tmp_path / "INDEX.yaml"
    index.write_text(json.dumps({"f.bin": {"hash": key, "size": 1, "mtime_ns": 1, "ino": 1}}))
    with pytest.raises(MLGitError, match="no valid CID"):
        idx.load(index)
    assert not (tmp_path / "objects").exists() or not any((tmp_path / "objects").rglob("*"))


# -- 2. what a checkout writes is bounded by what the version declares -----------------------------------
@pytest.mark.timeout(120)
def test_one_chunk_listed_thousands_of_times_is_refused_before_writing(
    project: Project, second: Project, tmp_path: Path
) -> None:
    chunk = os.urandom(BLOCK_SIZE)
    (project.bucket / cid_of(chunk)).write_bytes(chunk)
    key = plant_version(
        project, tmp_path, [(cid_of(chunk), BLOCK_SIZE)] * 4000, ["a.bin", "b.bin"], size="572.0 kB", amount=2
    )  # 2 x 1 GB from 572 KB in the bucket
    run = victim(second.root, "datasets checkout ds")
    assert run.returncode == 1, run.stderr
    assert "checkout would write 2097152000 bytes" in run.stderr and "572.0 kB" in run.stderr
    assert data_files(second) == [] and not any((second.root / ".ml-git" / "datasets" / "cache").rglob("z*"))
    assert key in {
        p.name for p in (second.root / ".ml-git" / "datasets" / "objects").rglob("z*")
    }  # descriptor only


@pytest.mark.parametrize("mutability", ["strict", "mutable"])
def test_repeated_chunks_are_fetched_once(
    project: Project, second: Project, tmp_path: Path, mutability: str
) -> None:
    chunk, tail = os.urandom(BLOCK_SIZE), os.urandom(10)
    for c in (chunk, tail):
        (project.bucket / cid_of(c)).write_bytes(c)
    links = [(cid_of(chunk), BLOCK_SIZE)] * 40 + [(cid_of(tail), 10)]
    size = 2 * (40 * BLOCK_SIZE + 10)
    plant_version(
        project, tmp_path, links, ["a.bin", "b.bin"], mutability, size=f"{size / 1e6:.1f} MB", amount=2
    )
    res = second.repo.checkout("datasets", "ds")
    expected = chunk * 40 + tail
    assert (Path(res.path) / "a.bin").read_bytes() == expected == (Path(res.path) / "b.bin").read_bytes()
    assert res.downloaded == 3  # the descriptor and two distinct chunks, each once (was 1 + 82 or more)


@pytest.mark.parametrize(
    ("links", "declared", "match"),
    [
        pytest.param("short", {}, "is declared 10 bytes, found 100", id="link-size-smaller-than-chunk"),
        pytest.param("zero", {}, "expected a size of 1..", id="link-size-zero"),
        pytest.param("huge", {}, "expected a size of 1..", id="link-size-huge"),
        pytest.param("bool", {}, "expected a size of 1..", id="link-size-bool"),
        pytest.param("ok", {"amount": 5}, "declares manifest.amount 5", id="amount-disagrees"),
        pytest.param("ok", {"size": "50 Bytes"}, "checkout would write 100 bytes", id="size-disagrees"),
    ],
)
def test_descriptor_sizes_must_agree_with_their_chunks(
    project: Project, second: Project, tmp_path: Path, links: str, declared: dict[str, object], match: str
) -> None:
    chunk = os.urandom(100)
    (project.bucket / cid_of(chunk)).write_bytes(chunk)
    size = {"short": 10, "zero": 0, "huge": 2**40, "bool": True, "ok": 100}[links]
    plant_version(project, tmp_path, [(cid_of(chunk), size)], ["f.bin"], **{"size": "100 Bytes", **declared})
    with pytest.raises((DescriptorError, TooLarge, MLGitError), match=match) as err:
        second.repo.checkout("datasets", "ds")
    assert err.type is not MLGitError
    assert data_files(second) == []
    assert Cli(second.root)("datasets checkout ds", ok=False).exit_code == 1


# -- 3. names add cannot keep apart or read back are refused at add -------------------------------------------
def _entity(p: Project, files: dict[str, bytes] | None = None) -> Path:
    path = p.repo.create("datasets", "ds", "cv", "strict", "local", "bucket")
    for rel, data in (files or {"ok.bin": b"ok"}).items():
        write(path / rel, data)
    return path


def test_backslash_in_a_name_is_refused_at_add(project: Project) -> None:
    path = _entity(project, {"a/b.txt": b"real folder"})
    write(path / "a\\b.txt", b"backslash name")
    with pytest.raises(UnsafePath, match=r"a\\\\b.txt.*backslash.*collide with 'a/b.txt'"):
        project.repo.add("datasets", "ds")
    assert not (project.repo.layout.index_dir("datasets", "ds") / "INDEX.yaml").exists()
    assert "backslash" in Cli(project.root)("datasets add ds", ok=False).output


@pytest.mark.parametrize("bad", ["new\nline.txt", "tab\t.txt", "esc\x1b[31m.txt", "sub\rdir/x.bin"])
def test_control_character_in_a_name_is_refused_and_the_entity_keeps_working(
    project: Project, bad: str
) -> None:
    path = _entity(project)
    project.repo.add("datasets", "ds")
    write(path / bad, b"x")
    with pytest.raises(UnsafePath, match="control character"):
        project.repo.add("datasets", "ds")
    (path / bad).unlink()
    if "/" in bad:
        (path / bad).parent.rmdir()
    assert project.repo.status("datasets", "ds").corrupted == []
    project.repo.add("datasets", "ds")
    assert project.repo.commit("datasets", "ds").files == 1


def test_non_utf8_folder_name_is_refused_and_the_index_is_untouched(project: Project) -> None:
    path = _entity(project)
    project.repo.add("datasets", "ds")
    index = project.repo.layout.index_dir("datasets", "ds")
    before = {f.name: f.read_bytes() for f in index.iterdir()}
    os.chmod(path, 0o755)
    bad = os.path.join(os.fsencode(path), b"bad-\xff")
    os.makedirs(bad)
    with open(os.path.join(bad, b"x.bin"), "wb") as fh:
        fh.write(b"x")
    with pytest.raises(UnsafePath, match="not valid UTF-8"):
        project.repo.add("datasets", "ds")
    assert {f.name: f.read_bytes() for f in index.iterdir()} == before
    run = Cli(project.root)("datasets add ds", ok=False)
    assert run.exit_code == 1 and "internal error" not in run.output


# -- 4. root cannot destroy a committed, unpushed version by writing in place ----------------------------------
@pytest.mark.skipif(not ROOT, reason="mode 0444 protects the cache from this user; the case is root's")
@pytest.mark.parametrize("mutability", ["strict", "flexible"])
def test_root_writing_in_place_keeps_the_unpushed_version(
    project: Project, second: Project, mutability: str
) -> None:
    path = project.repo.create("datasets", "ds", "cv", mutability, "local", "bucket")
    original = os.urandom(300_000)
    write(path / "a.bin", original)
    project.repo.add("datasets", "ds")
    project.repo.commit("datasets", "ds")
    cached = project.repo.layout.cache("datasets").path(
        project.repo.store.staged("datasets", "ds")[0]["a.bin"].cid
    )
    assert os.stat(cached).st_ino != os.stat(path / "a.bin").st_ino
    # a checkout of the version that exists only here does not share the cache's inode either
    (path / "a.bin").unlink()
    project.repo.checkout("datasets", "cv__ds__1", force=True)
    assert os.stat(cached).st_ino != os.stat(path / "a.bin").st_ino
    with open(path / "a.bin", "r+b") as fh:  # root: mode 0444 does not stop it
        fh.write(b"OVERWRITTEN")
    assert project.repo.status("datasets", "ds").corrupted == ["a.bin"]
    project.repo.push("datasets", "ds")  # the committed bytes, not the edited ones
    assert (Path(second.repo.checkout("datasets", "ds").path) / "a.bin").read_bytes() == original
    report = project.repo.fsck("datasets")
    assert report.corrupted_workspace == ["ds/a.bin"] and report.unfixable == []
    assert (path / "a.bin").read_bytes() == original


# -- 5. hostile values end in one clear error -------------------------------------------------------------
def test_metric_that_is_not_a_number(project: Project, second: Project, tmp_path: Path) -> None:
    path = project.repo.create("models", "m", "cv", "strict", "local", "bucket")
    body = yaml.safe_load((path / "m.spec").read_text())
    body["model"]["metrics"] = {"acc": "high"}
    (path / "m.spec").write_text(yaml.safe_dump(body))
    with pytest.raises(SpecError, match="expected metric 'acc' to be a number, found 'high'"):
        project.repo.add("models", "m")
    run = Cli(project.root)("models add m", ok=False)
    assert run.exit_code == 1 and "internal error" not in run.output
    attacker_push(
        project.remotes["models"],
        tmp_path,
        {"m/m.spec": (path / "m.spec").read_bytes(), "m/MANIFEST.yaml": b"{}\n"},
        "cv__m__1",
    )
    for line in ("models checkout m", "models metrics m", "models lineage cv__m__1"):
        run = Cli(second.root)(line, ok=False)
        assert run.exit_code == 1 and "to be a number" in run.output, line


@pytest.mark.parametrize(
    "storages",
    [
        {"s3h": ["mlgit-datasets"]},
        {"local": {"bucket": ["path", "x"]}},
        {"s3h": "bucket"},
        {"local": {"bucket": None}},
    ],
)
def test_a_list_where_a_storage_mapping_is_expected(project: Project, storages: object) -> None:
    config = project.root / ".ml-git" / "config.yaml"
    doc = yaml.safe_load(config.read_text())
    doc["storages"] = storages
    config.write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError, match="must be a mapping of bucket name -> settings"):
        project.repo.create("datasets", "ds", "cv", "strict", "local", "bucket")
    for line in (
        "repository config show",
        "datasets create ds --categories=cv --mutability=strict --storage-type=local --bucket-name=bucket",
    ):
        run = Cli(project.root)(line, ok=False)
        assert run.exit_code == 1 and "internal error" not in run.output and "storages." in run.output


@pytest.fixture
def small_disk(tmp_path: Path) -> object:
    """A 3 MiB tmpfs (we run as root); None where it cannot be mounted."""
    mnt = tmp_path / "small-disk"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)], capture_output=True)
    if done.returncode != 0:
        yield None
        return
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_full_disk_during_add_is_one_clear_error(
    project: Project, small_disk: Path | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = os.urandom(2 * 1024 * 1024)
    if small_disk is not None:  # a real full disk: the workspace on a 3 MiB tmpfs
        p = make_project(small_disk / "ws", project.remotes, project.bucket)
    else:  # no mount here (not root, no CAP_SYS_ADMIN): the one fault we mock, ENOSPC at the first write
        p = project
        import mlgit.objects

        def full(*_a: object, **_k: object) -> bool:
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(mlgit.objects.HashFS, "put", full)
    path = p.repo.create("datasets", "ds", "cv", "mutable", "local", "bucket")
    write(path / "big.bin", big)  # 2 MiB: its chunks (another 2 MiB) do not fit
    with pytest.raises(DiskFull, match="no space left on the device"):
        p.repo.add("datasets", "ds")
    assert not (p.repo.layout.index_dir("datasets", "ds") / "INDEX.yaml").exists()  # nothing recorded
    run = Cli(p.root)("datasets add ds", ok=False)
    assert run.exit_code == 1 and "no space left" in run.output and "internal error" not in run.output
    (path / "big.bin").unlink()
    write(path / "small.bin", b"fits")
    assert p.repo.add("datasets", "ds").files == 1  # after freeing space it just works


# -- 6. --metrics-file: a small regular file, never quoted ------------------------------------------------
@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", ["shadow", "dev-zero", "fifo", "folder", "big"])
def test_metrics_file_must_be_a_small_regular_file_and_is_never_quoted(
    project: Project, tmp_path: Path, kind: str
) -> None:
    path = project.repo.create("models", "m", "cv", "strict", "local", "bucket")
    write(path / "w.bin", b"w")
    secret = "root:$6$SECRETHASH$xyz:19000:0:99999:7:::"
    target = tmp_path / "input"
    if kind == "shadow":
        target.write_text(f"{secret}\ndaemon:*:19000:0:99999:7:::\n")
    elif kind == "dev-zero":
        target = Path("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(target)
    elif kind == "folder":
        target.mkdir()
    else:
        target.write_text("acc\n" + "1" * 2_000_000 + "\n")
    with pytest.raises((InputFileError, SpecError)) as err:
        project.repo.add("models", "m", metrics_file=target)
    assert "SECRETHASH" not in str(err.value) and str(target) in str(err.value)
    assert not (
        project.repo.layout.index_dir("models", "m") / "INDEX.yaml"
    ).exists()  # checked before any work
    run = Cli(project.root)(f"models add m --metrics-file={target}", ok=False)
    assert run.exit_code == 1 and "SECRETHASH" not in run.output and "internal error" not in run.output


# -- 7. temp files cannot be confused with user files ----------------------------------------------------------
def test_user_files_named_like_temp_files_are_versioned_and_never_deleted(project: Project) -> None:
    proc = subprocess.Popen(["true"])
    proc.wait()  # a dead pid
    path = _entity(
        project, {f".tmp-{proc.pid}-1-notes.txt": b"mine", f"sub/.tmp-{proc.pid}-2-x": b"also mine"}
    )
    res = project.repo.add("datasets", "ds")
    assert res.files == 2  # versioned like any file
    project.repo.commit("datasets", "ds")
    project.repo.push("datasets", "ds")
    project.repo.checkout("datasets", "ds", force=True)
    assert project.repo.fsck("datasets").total == 0
    assert (path / f".tmp-{proc.pid}-1-notes.txt").read_bytes() == b"mine"
    assert (path / "sub" / f".tmp-{proc.pid}-2-x").read_bytes() == b"also mine"


# -- 8. a bucket folder that would lose objects is refused ----------------------------------------------------
@pytest.mark.parametrize("where", [".", "datasets/ds", "datasets/ds/sub", "datasets", ".ml-git/bucket"])
def test_local_storage_inside_the_workspace_or_an_entity_is_refused(project: Project, where: str) -> None:
    _entity(project)
    folder = (project.root / where).resolve()
    with pytest.raises(ConfigError, match="expected a folder of its own"):
        project.repo.storage_add("inner", "local", path=str(folder))
    run = Cli(project.root)(f"repository storage add inner --type=local --path={folder}", ok=False)
    assert run.exit_code == 1
    # a config edited by hand is refused when the storage is opened
    config = project.root / ".ml-git" / "config.yaml"
    doc = yaml.safe_load(config.read_text())
    doc["storages"]["local"]["bucket"]["path"] = str(folder)
    config.write_text(yaml.safe_dump(doc))
    project.repo.add("datasets", "ds")
    project.repo.commit("datasets", "ds")
    with pytest.raises(ConfigError, match="expected a folder of its own"):
        project.repo.push("datasets", "ds")


# -- 9. remote-fsck --no-fix fails when objects are missing -----------------------------------------------------
def test_remote_fsck_no_fix_exits_1_when_objects_are_missing(project: Project) -> None:
    _entity(project)
    project.repo.add("datasets", "ds")
    project.repo.commit("datasets", "ds")
    project.repo.push("datasets", "ds")
    cli = Cli(project.root)
    assert cli("datasets remote-fsck ds --no-fix").exit_code == 0
    for obj in project.bucket.iterdir():
        obj.unlink()
    run = cli("datasets remote-fsck ds --no-fix", ok=False)
    assert run.exit_code == 1 and "missing object(s)" in run.output
    assert not any(project.bucket.iterdir())  # only reported
    assert cli("datasets remote-fsck ds").exit_code == 0  # fixed from the local copy


# -- 10. a refused checkout leaves the workspace as it was ------------------------------------------------------
def _workspace_state(p: Project) -> dict[str, tuple[bytes, int]]:
    """Every file of the entity folder (bytes, mode), and the entity's index, manifest and HEAD."""
    files = [
        *(p.root / "datasets").rglob("*"),
        *(p.root / ".ml-git" / "datasets" / "index").rglob("*"),
        p.root / ".ml-git" / "datasets" / "refs" / "ds" / "HEAD",
    ]
    return {str(f): (f.read_bytes(), f.stat().st_mode) for f in files if f.is_file()}


def _plant_second_version(p: Project, tmp: Path, mutability: str, fault: str) -> bytes:
    """Version 2 pushed by whoever can write the metadata remote and the bucket: every file of version 1
    changed, new files in new folders, and one bad object (sorted last, so the good ones are built first).
    Returns the bytes of the bad file's chunk."""
    paths: dict[str, list[str]] = {}
    for rel in [*(f"data/d{i % 3}/f{i:02d}.bin" for i in range(12)), *(f"new/g{i}.bin" for i in range(6))]:
        chunk = os.urandom(100)
        (p.bucket / cid_of(chunk)).write_bytes(chunk)
        desc = descriptor_bytes([(cid_of(chunk), 100)])
        (p.bucket / cid_of(desc)).write_bytes(desc)
        paths[cid_of(desc)] = [rel]
    chunk = os.urandom(100)
    if fault == "corrupt-object":  # a bucket object whose bytes do not match its CID
        (p.bucket / cid_of(chunk)).write_bytes(b"x" * 100)
        desc = descriptor_bytes([(cid_of(chunk), 100)])
    else:  # a descriptor lying about the size of its chunk
        (p.bucket / cid_of(chunk)).write_bytes(chunk)
        desc = descriptor_bytes([(cid_of(chunk), 10)])
    (p.bucket / cid_of(desc)).write_bytes(desc)
    paths[cid_of(desc)] = ["zz/bad.bin"]
    body = spec(mutability=mutability, size="1 MB", amount=19).replace(b"version: 1", b"version: 2")
    attacker_push(
        p.remotes["datasets"], tmp, {"ds/ds.spec": body, "ds/MANIFEST.yaml": manifest(paths)}, "cv__ds__2"
    )
    return chunk


@pytest.mark.parametrize("force", [False, True], ids=["clean", "force-with-untracked-file"])
@pytest.mark.parametrize("fault", ["corrupt-object", "lying-descriptor"])
@pytest.mark.parametrize("mutability", ["strict", "mutable"])
def test_a_refused_checkout_leaves_the_previous_version_as_it_was(
    project: Project, second: Project, tmp_path: Path, mutability: str, fault: str, force: bool
) -> None:
    path = project.repo.create("datasets", "ds", "cv", mutability, "local", "bucket")
    for i in range(12):
        write(path / "data" / f"d{i % 3}" / f"f{i:02d}.bin", f"version 1, file {i}\n".encode())
    project.repo.add("datasets", "ds")
    project.repo.commit("datasets", "ds")
    project.repo.push("datasets", "ds")
    chunk = _plant_second_version(project, tmp_path, mutability, fault)
    v1 = Path(second.repo.checkout("datasets", "cv__ds__1").path)
    if force:  # --force overwrites local changes to the version's files; a file of the user's own stays
        write(v1 / "data" / "notes.txt", b"the user's own notes\n")
    before = _workspace_state(second)

    with pytest.raises(MLGitError, match="zz/bad.bin|declared 10 bytes, found 100") as err:
        second.repo.checkout("datasets", "cv__ds__2", force=force)
    assert err.type is not MLGitError
    assert _workspace_state(second) == before  # no file of version 2, none of version 1 replaced
    assert not (v1 / "new").exists() and not (v1 / "zz").exists()  # no folder of version 2 either
    assert [f for f in (second.root / ".ml-git" / "tmp").rglob("*") if f.is_file()] == []
    st = second.repo.status("datasets", "ds")
    assert st.modified == st.new == st.deleted == st.missing == [] and st.untracked == (
        ["data/notes.txt"] if force else []
    )
    res = Cli(second.root)(f"datasets checkout cv__ds__2{' --force' if force else ''}", ok=False)
    assert res.exit_code == 1 and _workspace_state(second) == before

    if fault == "corrupt-object":  # the object repaired: the same checkout goes through
        (project.bucket / cid_of(chunk)).write_bytes(chunk)
        second.repo.checkout("datasets", "cv__ds__2", force=force)
        assert (v1 / "zz" / "bad.bin").read_bytes() == chunk and len(list((v1 / "new").iterdir())) == 6
        assert (v1 / "data" / "notes.txt").exists() == force


def test_a_fresh_checkout_never_overwrites_the_users_files_in_its_folder(
    project: Project, second: Project, tmp_path: Path
) -> None:
    """The entity folder exists without its spec (the user's own files): checkout neither loses one of them
    when it is refused for a bad object, nor overwrites one without --force."""
    publish(project, data=b"the version's data\n")
    own = write(second.root / "datasets" / "ds" / "data" / "a.bin", b"the user's own file\n")
    other = write(second.root / "datasets" / "ds" / "keep.txt", b"another of the user's files\n")
    with pytest.raises(LocalChanges, match=r"would overwrite .*a.bin, a file not checked out here"):
        second.repo.checkout("datasets", "ds")
    assert own.read_bytes() == b"the user's own file\n" and other.exists()
    assert not (second.root / "datasets" / "ds" / "ds.spec").exists()
    second.repo.checkout("datasets", "ds", force=True)
    assert (
        own.read_bytes() == b"the version's data\n" and other.read_bytes() == b"another of the user's files\n"
    )


@pytest.mark.parametrize("clash", ["folder-where-a-file-goes", "file-where-a-folder-goes"])
def test_a_checkout_that_could_not_finish_is_refused_before_it_writes(
    project: Project, second: Project, clash: str
) -> None:
    """A folder of the user's where the version has a file, or a file of the user's where it has a folder:
    refused, even with --force, before any file is written (a rename failing half-way would leave half a
    version, and the user's file or folder is never removed)."""
    publish(project)
    folder = second.root / "datasets" / "ds"
    if clash == "folder-where-a-file-goes":
        write(folder / "data" / "a.bin" / "mine.txt", b"the user's")
        match = r"would put a file where .*data/a.bin is a folder"
    else:
        write(folder / "data", b"the user's")
        match = r"needs a folder where .*ds/data is a file"
    before = {str(f): f.read_bytes() for f in folder.rglob("*") if f.is_file()}
    with pytest.raises(LocalChanges, match=match):
        second.repo.checkout("datasets", "ds", force=True)
    assert {str(f): f.read_bytes() for f in folder.rglob("*") if f.is_file()} == before
