"""``environment_keys``: the environment's keys taken without botocore exactly when botocore's default
chain would return them, checked against botocore itself."""

from __future__ import annotations

from pathlib import Path

import botocore.session
import pytest

from mlgit.storage.s3 import S3Storage, environment_keys

_VARS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_CREDENTIAL_EXPIRATION",
)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No AWS variable set; config files holding a default profile (with other keys) and a profile 'p'."""
    for name in _VARS:
        monkeypatch.delenv(name, raising=False)
    creds = tmp_path / "credentials"
    creds.write_text(
        "[default]\naws_access_key_id = FILEKEY\naws_secret_access_key = filesecret\n"
        "[p]\naws_access_key_id = PKEY\naws_secret_access_key = psecret\n"
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return monkeypatch


CASES = [
    {"AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "sk"},
    {"AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "sk", "AWS_SESSION_TOKEN": "st"},
    {
        "AWS_ACCESS_KEY_ID": "AK",
        "AWS_SECRET_ACCESS_KEY": "sk",
        "AWS_SECURITY_TOKEN": "old",
        "AWS_SESSION_TOKEN": "st",
    },
    {"AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "sk", "AWS_SESSION_TOKEN": ""},
    {"AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "sk", "AWS_PROFILE": "p"},
    {"AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "sk", "AWS_DEFAULT_PROFILE": "p"},
    {
        "AWS_ACCESS_KEY_ID": "AK",
        "AWS_SECRET_ACCESS_KEY": "sk",
        "AWS_CREDENTIAL_EXPIRATION": "2999-01-01T00:00:00Z",
    },
    {"AWS_ACCESS_KEY_ID": "AK"},
    {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "sk"},
    {},
]


@pytest.mark.parametrize(
    "env", CASES, ids=lambda env: ",".join(f"{k[4:]}={v}" for k, v in env.items()) or "none"
)
def test_environment_keys_are_what_botocore_would_take(
    aws_env: pytest.MonkeyPatch, env: dict[str, str]
) -> None:
    for name, value in env.items():
        aws_env.setenv(name, value)
    keys = environment_keys()
    if keys is None:
        return  # botocore decides, as before: nothing to compare
    frozen = botocore.session.Session().get_credentials().get_frozen_credentials()
    assert keys == (frozen.access_key, frozen.secret_key, frozen.token or None)


def test_environment_keys_defer_to_botocore_when_it_would_do_more(aws_env: pytest.MonkeyPatch) -> None:
    aws_env.setenv("AWS_ACCESS_KEY_ID", "AK")
    assert environment_keys() is None  # partial: botocore reports it
    aws_env.setenv("AWS_SECRET_ACCESS_KEY", "sk")
    assert environment_keys() == ("AK", "sk", None)
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CREDENTIAL_EXPIRATION"):
        aws_env.setenv(name, "x")
        assert environment_keys() is None, name
        aws_env.delenv(name)


def test_storage_signs_with_environment_keys_without_botocore(aws_env: pytest.MonkeyPatch) -> None:
    aws_env.setenv("AWS_ACCESS_KEY_ID", "AK")
    aws_env.setenv("AWS_SECRET_ACCESS_KEY", "sk")
    aws_env.setenv("AWS_SESSION_TOKEN", "st")
    storage = S3Storage("bucket", endpoint_url="http://127.0.0.1:9")
    assert storage.sdk == "http" and storage._session_obj is None
    assert storage._http is not None
    headers = storage._http.sign("GET", "/bucket/k", "", "UNSIGNED-PAYLOAD")
    assert headers["x-amz-security-token"] == "st"
    assert headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AK/")
    assert "sk" not in repr(vars(storage))


def test_a_profile_in_the_config_still_goes_through_botocore(aws_env: pytest.MonkeyPatch) -> None:
    aws_env.setenv("AWS_ACCESS_KEY_ID", "AK")
    aws_env.setenv("AWS_SECRET_ACCESS_KEY", "sk")
    storage = S3Storage("bucket", endpoint_url="http://127.0.0.1:9", profile="p")
    assert storage._session_obj is not None
    assert storage._http is not None
    assert storage._http._credentials()[:2] == ("PKEY", "psecret")  # an explicit profile wins over the env
