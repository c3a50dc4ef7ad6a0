"""The small pieces the metadata half of issue 9 rests on: URL checks, redaction, alias refusal."""

from __future__ import annotations

import pytest

from mlgit import yamlio
from mlgit.errors import UnsafeRemote
from mlgit.gitsafe import check_remote_url, git_env, redact


@pytest.mark.parametrize(
    "url",
    [
        "/srv/git/datasets.git",
        "../datasets.git",
        "file:///srv/datasets.git",
        "git@github.com:team/datasets.git",
        "ssh://git@host:22/team/datasets.git",
        "https://github.com/team/datasets.git",
        "git://host/datasets.git",
        "codecommit::us-east-1://datasets",
    ],
)
def test_plain_transports_pass(url: str) -> None:
    assert check_remote_url(url, "t") == url


@pytest.mark.parametrize(
    "url",
    [
        "ext::sh -c id",
        "EXT::x",
        "ext://x",
        "fd::0",
        "fd::3,4",
        "-uhelp",
        "--upload-pack=id",
        "https://host/x\n[core]",
        "a\0b",
        "",
        "   ",
    ],
)
def test_code_running_or_odd_urls_are_refused(url: str) -> None:
    with pytest.raises(UnsafeRemote, match="^where: "):
        check_remote_url(url, "where")


def test_refused_protocols_never_reach_git(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GIT_ALLOW_PROTOCOL", raising=False)
    assert git_env() == {"GIT_ALLOW_PROTOCOL": "file:git:http:https:ssh"}
    monkeypatch.setenv("GIT_ALLOW_PROTOCOL", "https:ext:codecommit:FD")  # the owner's list, minus ext and fd
    assert git_env() == {"GIT_ALLOW_PROTOCOL": "https:codecommit"}
    monkeypatch.setenv("GIT_ALLOW_PROTOCOL", "ext")
    assert git_env() == {"GIT_ALLOW_PROTOCOL": "file:git:http:https:ssh"}


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("https://u:tok@h/x.git", "https://***@h/x.git"),
        (
            "fatal: 'https://tok@h/x' and http://a:b@c:8080/y failed",
            "fatal: 'https://***@h/x' and http://***@c:8080/y failed",
        ),
        ("ssh://git@host/x", "ssh://***@host/x"),
        (
            "git@github.com:team/x.git /srv/x user@example.com",
            "git@github.com:team/x.git /srv/x user@example.com",
        ),
        ("https://host/path@v1", "https://host/path@v1"),
    ],
)
def test_redact(text: str, shown: str) -> None:
    assert redact(text) == shown


@pytest.mark.parametrize(
    "doc", ["note: R&D * 2\n", "glob: '*.txt'\nref: \"&x\"\n", "a: b&c\nd: e*f\n", "list: [x, 'y*', '&z']\n"]
)
def test_ampersands_and_stars_in_values_are_not_aliases(doc: str) -> None:
    assert yamlio.loads(doc) and yamlio.loads(doc.encode())


@pytest.mark.parametrize(
    "doc",
    ["a: &x 1\nb: *x\n", "a: &x [1]\n", "a: !!set {&k x: null}\n", "base: &b {k: 1}\nother:\n  <<: *b\n"],
)
def test_anchors_aliases_and_merge_keys_are_refused(doc: str) -> None:
    with pytest.raises(yamlio.AliasRefused, match="anchors or aliases"):
        yamlio.loads(doc)
