from __future__ import annotations

import argparse
import asyncio
import hashlib
from pathlib import Path

import pytest

from recordings import cli
from recordings.blobstore import BlobStore
from recordings.localstore import LocalBlobStore

from .backdoor import overwrite_raw, remove_raw


def run(argv: list[str], **register_kwargs) -> int:
    parser = argparse.ArgumentParser(prog="loanctl")
    commands = parser.add_subparsers(dest="command", required=True)
    cli.register(commands, **register_kwargs)
    args = parser.parse_args(argv)
    return args.run(args)


def url_of(store: BlobStore) -> str:
    return store.url


async def in_thread(argv: list[str], **kwargs) -> int:
    # The command runs its own event loop, as it does under loanctl.
    return await asyncio.to_thread(run, argv, **kwargs)


async def test_verify_intact_then_damaged(store: BlobStore, tmp_path: Path, capfd) -> None:
    digests = [(await store.put_bytes(f"record {i}".encode())).digest for i in range(20)]
    expected = tmp_path / "expected.txt"
    expected.write_text("# digests referenced by credit files\n" + "\n".join(digests) + "\n")

    assert await in_thread(["archive", "verify", "--store", url_of(store), "--expected", str(expected)]) == 0
    out, err = capfd.readouterr()
    assert "20 blobs" in out and "intact" in out
    assert "verifying [" in err and "20/20" in err  # progress bar on stderr

    await overwrite_raw(store, digests[4], b"altered record")
    await remove_raw(store, digests[7])
    code = await in_thread(["archive", "verify", "--store", url_of(store), "--expected", str(expected), "--quiet"])
    out, err = capfd.readouterr()
    assert code == 1
    assert f"ALTERED  {digests[4]}" in out
    assert f"MISSING  {digests[7]}" in out
    assert "NOT INTACT" in out and err == ""


async def test_verify_with_digests_from_the_core(store: BlobStore, capfd) -> None:
    await store.put_bytes(b"present")
    absent = hashlib.sha256(b"filed in the database, lost from storage").hexdigest()

    async def from_database(args: argparse.Namespace) -> list[str]:
        return [absent]

    code = await in_thread(["archive", "verify", "--store", url_of(store), "--quiet"], expected_digests=from_database)
    assert code == 1
    assert f"MISSING  {absent}" in capfd.readouterr().out


def test_verify_defaults_to_data_folder(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.delenv(cli.STORE_ENV, raising=False)
    monkeypatch.delenv("LOANCTL_ARCHIVE", raising=False)
    LocalBlobStore(tmp_path / "archive")
    assert run(["archive", "verify", "--data", str(tmp_path), "--quiet"]) == 0
    assert "0 blobs" in capsys.readouterr().out


def test_bad_arguments_exit_2(tmp_path: Path, capsys) -> None:
    assert run(["archive", "verify", "--store", "ftp://nowhere", "--quiet"]) == 2
    bad = tmp_path / "expected.txt"
    bad.write_text("not-a-digest\n")
    assert run(["archive", "verify", "--store", f"local:{tmp_path}/s", "--expected", str(bad), "--quiet"]) == 2
    assert "expected.txt:1" in capsys.readouterr().err
    # A mistyped path is an error, not an empty store that is "intact".
    assert run(["archive", "verify", "--store", f"local:{tmp_path}/typo", "--quiet"]) == 2
    assert not (tmp_path / "typo").exists()
    assert "no archive store" in capsys.readouterr().err


async def test_missing_bucket_exit_2(s3_endpoint: str, capfd) -> None:
    code = await in_thread(["archive", "verify", "--store", f"s3://no-such-bucket?endpoint={s3_endpoint}", "--quiet"])
    assert code == 2
    assert "cannot read" in capfd.readouterr().err


def test_keygen_prints_a_usable_key(capsys) -> None:
    from recordings.creditfile import IndexSigner

    assert run(["archive", "keygen"]) == 0
    out, err = capsys.readouterr()
    assert IndexSigner.from_config(out).public_key_pem() in err
    with pytest.raises(SystemExit):
        run(["archive"])
