"""Typed results of the verbs. Each has ``to_dict()`` giving plain JSON values (for XCom, Prefect)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


class _Dict:
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload, no-any-return]


@dataclass(frozen=True)
class Link(_Dict):
    """A lineage link as ML-Git stores it in a spec: ``{tag, sha}``."""

    tag: str
    sha: str


@dataclass(frozen=True)
class VersionResult(_Dict):
    """What add / commit / push / checkout did to one entity version."""

    entity_type: str  # datasets | labels | models
    name: str
    version: int
    tag: str | None  # None before the first commit
    sha: str | None  # the metadata commit of that tag
    path: str  # the entity's folder in the workspace
    files: int
    size: int  # bytes
    metrics: dict[str, float] = field(default_factory=dict)
    dataset: Link | None = None
    labels: Link | None = None
    created: bool = True  # False when a retried verb found its work already done
    uploaded: int = 0  # objects sent (push)
    downloaded: int = 0  # objects fetched (checkout)
    skipped: int = 0  # objects already where they had to go


@dataclass(frozen=True)
class StatusResult(_Dict):
    entity_type: str
    name: str
    new: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    untracked: list[str] = field(default_factory=list)
    corrupted: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # tracked, but gone from the workspace

    @property
    def clean(self) -> bool:
        return not (
            self.new or self.modified or self.deleted or self.untracked or self.corrupted or self.missing
        )


@dataclass(frozen=True)
class FsckResult(_Dict):
    entity_type: str
    objects_checked: int
    corrupted_objects: list[str]  # local repository (objects/hashfs)
    corrupted_index: list[str]  # cache / index (whole files)
    corrupted_workspace: list[str]  # workspace files that differ from what was added (strict/flexible)
    fixed: list[str]
    unfixable: list[str]

    @property
    def total(self) -> int:
        return len(self.corrupted_objects) + len(self.corrupted_index) + len(self.corrupted_workspace)


@dataclass(frozen=True)
class LineageNode(_Dict):
    entity_type: str
    name: str
    tag: str
    sha: str
    version: int
    metrics: dict[str, float] = field(default_factory=dict)
    dataset: Link | None = None
    labels: Link | None = None


@dataclass(frozen=True)
class Lineage(_Dict):
    """A version and everything it came from, closest first."""

    root: LineageNode
    upstream: list[LineageNode] = field(default_factory=list)
