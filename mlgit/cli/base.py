"""The root ``ml-git`` group and what every command module shares (project lookup, errors, progress)."""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from .. import __version__
from ..errors import MLGitError, NotARepository
from ..gitsafe import redact
from ..repository import Repository
from ..transfer import Progress

ENTITY_TYPES = ("datasets", "labels", "models")
STORAGE_TYPES = ["s3h", "local", "sftph", "azureblobh"]


def _project_root(start: Path) -> Path:
    for folder in (start, *start.parents):
        if (folder / ".ml-git" / "config.yaml").is_file():
            return folder
    raise NotARepository(
        f"You are not in an initialized ml-git repository: expected an ML-Git project in {start} or a parent "
        "folder (no .ml-git/config.yaml); run: ml-git repository init"
    )


def _repo(ctx: click.Context) -> Repository:
    return Repository(_project_root(Path(ctx.obj["cwd"])))


@contextmanager
def _progress() -> Iterator[Progress | None]:
    """tqdm bars on a terminal; silent otherwise."""
    if not sys.stderr.isatty():
        yield None
        return
    from tqdm import tqdm

    bars: dict[str, Any] = {}

    def update(phase: str, done: int, total: int) -> None:
        bar = bars.get(phase)
        if bar is None or bar.total != total:
            if bar is not None:
                bar.close()
            bar = bars[phase] = tqdm(total=total, desc=phase, unit="obj", leave=False, file=sys.stderr)
        bar.update(done - bar.n)

    try:
        yield update
    finally:
        for bar in bars.values():
            bar.close()


CONFIG_ADVICE = (
    "When making changes to the config file we strongly recommend that you upload these changes to the Git "
    "repository. For this, see: ml-git repository config push --help"
)


#: one line of help for the entity commands whose function has no docstring
HELP = {
    "add": "Add the entity's changed files (or only FILE_PATH...) to the staging area.",
    "branch": "The version checked out in this workspace (tag, sha).",
    "checkout": "Check out a version (a tag, or NAME [--version N]) into the workspace.",
    "commit": "Commit the staged files as a new version (tag) in the metadata repository.",
    "create": "Create an entity folder with its .spec, an empty README.md and data/.",
    "fsck": "Check the local objects, cache and locked workspace files; repair what can be repaired.",
    "list": "List the entities of the metadata repository.",
    "log": "The versions of an entity: tag, author, email, date, message (--stat: files).",
    "push": "Upload the data of the unpushed versions, then push the metadata.",
    "remote-fsck": "Check the storage holds every object of every version; upload what it lacks.",
    "show": "Print the spec of the version checked out (or the latest).",
    "status": "Staged, untracked and corrupted files of an entity.",
    "unlock": "Make one file of a flexible entity editable.",
    "update": "Update the metadata repository from its remote.",
    "metrics": "The metrics of every version of a model (or export them as csv/json).",
}


def info(where: str, message: str) -> None:
    """One of ML-Git's log lines (``INFO - Admin: ...``): scripts written for ML-Git parse these.
    A URL's user:token is never shown."""
    click.echo(redact(f"INFO - {where}: {message}"))


def warn(where: str, message: str) -> None:
    click.echo(redact(f"WARNING - {where}: {message}"), err=True)


def find_root(start: Path) -> Path | None:
    try:
        return _project_root(start)
    except NotARepository:
        return None


def not_empty(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """ML-Git's NotEmptyString: ``--opt=`` (or blanks) is refused before anything runs."""
    values = value if isinstance(value, tuple) else (value,)
    if any(isinstance(v, str) and not v.strip() for v in values):
        raise click.BadParameter("Value cannot be empty.", ctx=ctx, param=param)
    return value


class _Group(click.Group):
    """Turns our errors into one line on stderr (the traceback only with --verbose)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MLGitError as exc:
            _fail(ctx, exc, 1)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:  # an unexpected failure: still one line, detail with --verbose
            _fail(ctx, exc, 2, prefix=f"internal error ({type(exc).__name__}): ")


def _fail(ctx: click.Context, exc: BaseException, code: int, prefix: str = "") -> None:
    verbose = (ctx.obj or {}).get("verbose")
    if verbose:
        click.echo(redact("".join(traceback.format_exception(exc))).rstrip(), err=True)
    click.echo(redact(f"ERROR - {prefix}{exc}"), err=True)
    ctx.exit(code)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--verbose", is_flag=True, help="Show debug logs and tracebacks.")
@click.option(
    "-C", "cwd", default=".", type=click.Path(file_okay=False), help="Run as if started in this folder."
)
@click.version_option(__version__, prog_name="ml-git")
@click.pass_context
def cli(ctx: click.Context, verbose: bool, cwd: str) -> None:
    """Version ML datasets, labels and models (ML-Git compatible)."""
    ctx.ensure_object(dict)
    ctx.obj.update(verbose=verbose, cwd=str(Path(cwd).resolve()))
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING, format="%(levelname)s - %(name)s: %(message)s"
    )
