"""``<type> tag add NAME TAG``: a user's tag on the checked-out version (ML-Git's ``_._user._.`` form)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import InvalidName, NothingToCommit, VersionConflict

if TYPE_CHECKING:
    from ..repository import Repository

PREFIX = "_._user._."


def user_tag_name(version_tag: str, usrtag: str) -> str:
    return "._.".join(["_._user", version_tag, usrtag])


def tag_add(repo: Repository, et: str, name: str, usrtag: str) -> str:
    """Tag the version checked out in the workspace; the tag is pushed when there is a remote."""
    head = repo._head(et, name)
    if head is None:
        raise NothingToCommit(f"No current tag for [{name}]. commit first.")
    if not usrtag or any(c.isspace() for c in usrtag) or "._." in usrtag:
        raise InvalidName(f"tag: expected a git tag name without spaces or '._.', found {usrtag!r}")
    md = repo.metadata(et)
    full = user_tag_name(head[0], usrtag)
    md.git("check-ref-format", f"refs/tags/{full}")
    if any(
        t.endswith("._." + usrtag) and t.startswith(PREFIX) for t in md.git("tag", "-l", f"{PREFIX}*").split()
    ):
        raise VersionConflict(f"Tag [{usrtag}] already exists.")
    md.git("tag", "-a", full, "-m", f'Automatic tag "{full}"', head[1])
    if md.remote_url():
        md.git("push", "--quiet", "origin", f"refs/tags/{full}:refs/tags/{full}")
    return full
