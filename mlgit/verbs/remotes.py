"""``repository remote <type> del``: forget a type's metadata remote (config and the clone's origin)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..repository import Repository


def remote_del(repo: Repository, et: str) -> str:
    from .. import config as cfg

    source = cfg.load_global() if repo._global_config else cfg.load_local(repo.root)
    url = str((source.get(et) or {}).get("git") or "")
    if not url:
        raise ConfigError(f"Remote URL not found for [{et}]. Check your configuration file.")

    def apply(data: dict[str, Any]) -> None:
        data[et] = {**(data.get(et) or {}), "git": ""}

    repo._update_config(apply)
    md = repo.metadata(et)
    if md.exists and md.remote_url():
        md.git("remote", "remove", "origin")
    return url
