""" "Latest" is the remote's latest when asked: ``checkout(..., fetch=True)`` / ``--fetch``; without it a
name resolves from the local clone's tags, as ML-Git's own checkout does. ``tags(fetch=True)`` lists
the versions on the remote only, never a version committed here and not pushed."""

from __future__ import annotations

from helpers import Cli, Project, write


def _version(p: Project, n: int) -> str:
    path = (
        p.repo.entity_path("datasets", "ds")
        if n > 1
        else p.repo.create("datasets", "ds", "cv", "strict", "local", "bucket")
    )
    write(path / f"f{n}.bin", str(n).encode())
    p.repo.add("datasets", "ds", bumpversion=True)
    p.repo.commit("datasets", "ds")
    return str(p.repo.push("datasets", "ds").tag)


def test_checkout_fetch_takes_the_remotes_latest(project: Project, second: Project, cli: Cli) -> None:
    assert _version(project, 1) == "cv__ds__1"
    assert second.repo.checkout("datasets", "ds").tag == "cv__ds__1"
    assert _version(project, 2) == "cv__ds__2"
    assert second.repo.checkout("datasets", "ds").tag == "cv__ds__1"  # ML-Git's default: the local tags
    res = second.repo.checkout("datasets", "ds", fetch=True)
    assert res.tag == "cv__ds__2" and res.files == 2
    assert _version(project, 3) == "cv__ds__3"
    out = cli("datasets checkout ds --fetch", cwd=second.root).output
    assert "cv__ds__3" in out and second.repo.branch("datasets", "ds")[0] == "cv__ds__3"  # type: ignore[index]


def test_tags_fetch_lists_only_pushed_versions(project: Project) -> None:
    _version(project, 1)
    path = project.repo.entity_path("datasets", "ds")
    write(path / "local.bin", b"x")
    project.repo.add("datasets", "ds", bumpversion=True)
    project.repo.commit("datasets", "ds")  # committed, not pushed
    assert project.repo.tags("datasets", "ds") == ["cv__ds__1", "cv__ds__2"]
    assert project.repo.tags("datasets", "ds", fetch=True) == ["cv__ds__1"]
