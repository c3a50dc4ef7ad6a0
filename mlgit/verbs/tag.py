"""``<type> tag add NAME TAG``: a tag of the user's own on the checked-out version.

As ML-Git, the git tag is the user's name itself (``test-tag``), annotated, on the version's commit
in the metadata repository. A name that reads as a version tag (``cat__name__3``) is refused: it
would pass for a version.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import InvalidName, NothingToCommit, VersionConflict
from ..names import parse_tag

if TYPE_CHECKING:
    from ..context import Context


def tag_add(ctx: Context, et: str, name: str, usrtag: str) -> str:
    """Tag the version checked out in the workspace; the tag is pushed at once when there is a remote."""
    head = ctx.store.head(et, name)
    if head is None:
        raise NothingToCommit(f"No current tag for [{name}]. commit first.")
    # a leading "-" would reach git as an option (``git tag -a -f ...``), never as a name
    if not usrtag or usrtag[0] == "-" or any(c.isspace() for c in usrtag) or parse_tag(usrtag) is not None:
        raise InvalidName(
            f"tag: expected a git tag name without spaces, not starting with '-', that is not a version tag "
            f"(CATEGORY__NAME__N), "
            f"found {usrtag!r}"
        )
    md = ctx.metadata(et)
    md.git("check-ref-format", f"refs/tags/{usrtag}")
    if md.git("tag", "-l", usrtag).strip():
        raise VersionConflict(f"tag '{usrtag}' already exists")
    md.git("tag", "-a", usrtag, "-m", f'Automatic tag "{usrtag}"', head[1])
    if md.remote_url():
        md.git("push", "--quiet", "origin", f"refs/tags/{usrtag}:refs/tags/{usrtag}")
    return usrtag
