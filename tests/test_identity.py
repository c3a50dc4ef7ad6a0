"""A worker without a git identity: the commit fails at once, naming every way to set one; an
identity in the clone's config (what the Airflow connection / Prefect block git author fields set) works."""

from __future__ import annotations

import pytest
from helpers import Project, write

from mlgit import GitIdentityMissing


def test_missing_identity_names_all_four_variables(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    for role in ("AUTHOR", "COMMITTER"):
        for what in ("NAME", "EMAIL"):
            monkeypatch.delenv(f"GIT_{role}_{what}", raising=False)
    monkeypatch.setenv("EMAIL", "")
    path = project.repo.create("datasets", "ds", "cv", "strict", "local", "bucket")
    write(path / "a.bin", b"a")
    project.repo.add("datasets", "ds")
    with pytest.raises(GitIdentityMissing) as info:
        project.repo.commit("datasets", "ds")
    for var in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        assert var in str(info.value)
    assert project.repo.tags("datasets", "ds") == []
    md = project.repo.metadata("datasets")
    md.git("config", "user.name", "pipeline bot")
    md.git("config", "user.email", "bot@example.invalid")
    res = project.repo.commit("datasets", "ds")
    assert res.tag == "cv__ds__1" and "pipeline bot" in md.git("log", "-1", "--format=%an")
