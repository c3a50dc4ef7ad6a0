"""mlgit.storage.base.timeout_settings: the ``connect-timeout`` / ``read-timeout`` keys every remote storage reads."""

from __future__ import annotations

import pytest

from mlgit.errors import StorageError
from mlgit.storage import s3, sftp
from mlgit.storage.base import timeout_settings
from mlgit.storage.s3 import S3Storage
from mlgit.storage.sftp import SFTPStorage

KEYS = {"aws_access_key_id": "K", "aws_secret_access_key": "S"}


def test_defaults_where_the_keys_are_absent() -> None:
    assert timeout_settings({}, "s3h://b", 5, 15) == {"connect_timeout": 5, "read_timeout": 15}


def test_seconds_from_the_config() -> None:
    got = timeout_settings({"connect-timeout": 1, "read-timeout": 2.5}, "s3h://b", 5, 15)
    assert got == {"connect_timeout": 1.0, "read_timeout": 2.5}


@pytest.mark.parametrize("value", [0, -1, "soon", True, 10_000, [3]])
def test_anything_else_is_one_line_naming_the_key_the_value_and_the_storage(value: object) -> None:
    with pytest.raises(StorageError) as err:
        timeout_settings({"read-timeout": value}, "s3h://b", 5, 15)
    msg = str(err.value)
    assert msg.startswith(
        "storage s3h://b: read-timeout must be seconds, more than 0 and at most 3600, found "
    )
    assert repr(str(value))[:20] in msg and "\n" not in msg


def test_s3_and_sftp_storages_take_them_from_their_config() -> None:
    settings = {"endpoint-url": "http://127.0.0.1:9", "read-timeout": 2, "connect-timeout": 0.5}
    s = S3Storage.from_config("b", settings, credentials=KEYS)
    assert (s.connect_timeout, s.read_timeout) == (0.5, 2.0)
    s = S3Storage.from_config("b", {"endpoint-url": "http://127.0.0.1:9"}, credentials=KEYS)
    assert (s.connect_timeout, s.read_timeout) == (s3.CONNECT_TIMEOUT, s3.READ_TIMEOUT)
    f = SFTPStorage.from_config("b", {"endpoint-url": "127.0.0.1", "read-timeout": 7})
    assert (f.connect_timeout, f.read_timeout) == (sftp.CONNECT_TIMEOUT, 7.0)
    with pytest.raises(StorageError, match="storage sftph://b: connect-timeout must be seconds"):
        SFTPStorage.from_config("b", {"endpoint-url": "127.0.0.1", "connect-timeout": "x"})
