"""mlgit for Prefect 3: a repository block, a credentials block, and one task per verb.

Registered through the ``prefect.collections`` entry point; ``prefect block register -m mlgit_prefect``
registers both blocks.
"""

from .blocks import BlockNotFound, MLGitCredentials, MLGitRepository, load_repository_block
from .tasks import (
    mlgit_add,
    mlgit_checkout,
    mlgit_commit,
    mlgit_create,
    mlgit_fsck,
    mlgit_push,
    mlgit_remote_fsck,
    mlgit_update,
)

__all__ = [
    "BlockNotFound",
    "MLGitCredentials",
    "MLGitRepository",
    "load_repository_block",
    "mlgit_add",
    "mlgit_checkout",
    "mlgit_commit",
    "mlgit_create",
    "mlgit_fsck",
    "mlgit_push",
    "mlgit_remote_fsck",
    "mlgit_update",
]
