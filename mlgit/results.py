"""Typed results of the verbs. Each has ``to_dict()`` giving plain JSON values (for XCom, Prefect)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ToDict:
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload, no-any-return]


@dataclass(frozen=True)
class Link(ToDict):
    """A lineage link as ML-Git stores it in a spec: ``{tag, sha}``."""

    tag: str
    sha: str


@dataclass(frozen=True)
class VersionResult(ToDict):
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
class StatusResult(ToDict):
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
class FsckResult(ToDict):
    entity_type: str
    objects_checked: int
    corrupted_objects: list[str]  # local repository (objects/hashfs)
    corrupted_cache: list[str]  # cached whole files (cache/hashfs) whose bytes do not match their CID
    corrupted_workspace: list[str]  # workspace files that differ from what was added (strict/flexible)
    fixed: list[str]
    unfixable: list[str]

    @property
    def corrupted_index(self) -> list[str]:
        """The name ML-Git's fsck report uses for ``corrupted_cache`` ("corrupted file(s) in Index")."""
        return self.corrupted_cache

    @property
    def total(self) -> int:
        return len(self.corrupted_objects) + len(self.corrupted_cache) + len(self.corrupted_workspace)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "corrupted_index": self.corrupted_cache}  # the key results had first


@dataclass(frozen=True)
class LineageNode(ToDict):
    entity_type: str
    name: str
    tag: str
    sha: str
    version: int
    metrics: dict[str, float] = field(default_factory=dict)
    dataset: Link | None = None
    labels: Link | None = None


@dataclass(frozen=True)
class Lineage(ToDict):
    """A version and everything it came from, closest first."""

    root: LineageNode
    upstream: list[LineageNode] = field(default_factory=list)


LinkArg = str | Mapping[str, str] | Link | None


def link_of(value: Any) -> Link | None:
    """The ``Link`` a spec's ``dataset``/``labels`` value holds, None when it holds none."""
    if isinstance(value, Mapping) and "tag" in value and "sha" in value:
        return Link(str(value["tag"]), str(value["sha"]))
    return None


def version_result(
    et: str,
    name: str,
    body: dict[str, Any],
    path: Path,
    index: Mapping[str, Any],
    tag: str | None,
    sha: str | None,
    **extra: Any,
) -> VersionResult:
    """The ``VersionResult`` of a verb on version ``body`` (``index``: the index or the manifest)."""
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
        dataset=link_of(body.get("dataset")),
        labels=link_of(body.get("labels")),
        **extra,
    )
