"""``export`` to and ``import`` from a real S3 server on loopback (moto, or MLGIT_TEST_S3_ENDPOINT)."""

from __future__ import annotations

from pathlib import Path

from helpers import Cli
from s3server import S3Bucket, make_bucket


def test_export_then_import_through_s3(cli: Cli, ws: Path, version, s3_bucket: S3Bucket) -> None:  # type: ignore[no-untyped-def]
    version("datasets", "ds", {"data/a": b"a" * 300_000, "data/b": b"b"})
    out = cli(
        f"datasets export cat__ds__1 {s3_bucket.bucket} --credentials=mlgit --endpoint={s3_bucket.endpoint}",
        cwd=ws,
    ).output
    assert f"Exported cat__ds__1: 5 object(s) written to {s3_bucket.bucket}" in out
    client = s3_bucket.server.client()
    keys = sorted(o["Key"] for o in client.list_objects_v2(Bucket=s3_bucket.bucket)["Contents"])
    assert keys == sorted(p.name for p in (ws.parent / "bucket").iterdir())

    plain = make_bucket(s3_bucket.server, "plain")
    client.put_object(Bucket=plain, Key="images/x.png", Body=b"x")
    client.put_object(Bucket=plain, Key="images/deep/y.png", Body=b"y")
    client.put_object(Bucket=plain, Key="../evil", Body=b"e")
    out = cli(
        f"datasets import {plain} imported --path=images --credentials=mlgit --endpoint-url={s3_bucket.endpoint}",
        cwd=ws,
    ).output
    assert "Imported 2 file(s) into datasets/imported" in out
    assert (ws / "datasets" / "imported" / "images" / "deep" / "y.png").read_bytes() == b"y"
    res = cli(
        f"datasets import {plain} x --object=../evil --credentials=mlgit --endpoint-url={s3_bucket.endpoint}",
        ok=False,
        cwd=ws,
    )
    assert res.exit_code == 1 and not (ws / "datasets" / "evil").exists()
