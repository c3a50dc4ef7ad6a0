"""``repository remote <type> add|del``: set or forget a type's metadata remote (config and the clone's origin)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import config as cfg
from ..errors import ConfigError
from ..gitsafe import check_remote_url

if TYPE_CHECKING:
    from ..context import Context


def remote_add(ctx: Context, et: str, url: str) -> str:
    """Set the metadata remote of a type; returns the URL it replaced ('' when none)."""
    check_remote_url(str(url), f"{et} metadata remote")
    previous = str((ctx.config.get(et) or {}).get("git") or "")

    def apply(data: dict[str, Any]) -> None:
        data[et] = {**data.get(et, {}), "git": str(url)}

    ctx.update_config(apply)
    md = ctx.metadata(et)
    if md.exists:
        md.init(str(url))
    return previous


def remote_del(ctx: Context, et: str) -> str:
    """Forget the metadata remote of a type (ML-Git's ``remote del``); returns the URL removed."""
    source = cfg.load_global() if ctx.global_config else cfg.load_local(ctx.root)
    url = str((source.get(et) or {}).get("git") or "")
    if not url:
        raise ConfigError(f"Remote URL not found for [{et}]. Check your configuration file.")

    def apply(data: dict[str, Any]) -> None:
        data[et] = {**(data.get(et) or {}), "git": ""}

    ctx.update_config(apply)
    md = ctx.metadata(et)
    if md.exists and md.remote_url():
        md.git("remote", "remove", "origin")
    return url
