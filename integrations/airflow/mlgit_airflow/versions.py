"""Finding a new version of an entity in its metadata remote (shared by the sensor and its trigger)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlgit import Repository


def version_of_tag(tag: str) -> int:
    """``cat__name__3`` -> 3."""
    return int(tag.rsplit("__", 1)[-1])


def wanted_version(repo: Repository, entity_type: str, name: str, min_version: int | None) -> int:
    """The first version that counts as new: ``min_version``, else one past the checked-out version."""
    if min_version is not None:
        return int(min_version)
    head = repo.branch(entity_type, name)
    return version_of_tag(head[0]) + 1 if head else 1


def find_version(repo: Repository, entity_type: str, name: str, min_version: int) -> dict[str, Any] | None:
    """Fetch the remote's tags (the workspace does not move); the newest version >= ``min_version``
    as an XCom dict, or None."""
    tags = repo.tags(entity_type, name, fetch=True)
    if not tags or version_of_tag(tags[-1]) < min_version:
        return None
    return {"entity_type": entity_type, "name": name, "tag": tags[-1], "version": version_of_tag(tags[-1])}
