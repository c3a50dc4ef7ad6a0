"""Until tests/conftest.py declares ``pytest_plugins = ["s3server"]``, borrow its fixtures here."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from s3server import s3_bucket, s3_server  # noqa: E402,F401
