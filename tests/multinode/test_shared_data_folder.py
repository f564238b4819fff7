"""Nodes sharing one data folder and starting at the same moment all get the same, complete keys
(the secret key, the archive signing key, the biometric master key): none reads a key file
another process has created but not yet written."""
from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

from core import keyfile
from core.config import Config
from tests.waiting import PATIENCE


def _start_like_a_node(folder: str, barrier, results) -> None:
    from biometrics.keys import load_master_key
    from recordings.service import load_signer

    barrier.wait()
    try:
        config = Config(data_dir=Path(folder)).with_secrets()
        signer = load_signer(config)
        master = load_master_key("", Path(folder))
        results.put((config.secret_key.hex(), signer.public_key_pem(), master.key.hex()))
    except BaseException as error:  # noqa: BLE001 - reported to the test, which fails on it
        results.put(("error", repr(error)))


def test_nodes_starting_at_once_on_one_data_folder_share_complete_keys(tmp_path):
    context = multiprocessing.get_context("fork")
    count = 6
    barrier, results = context.Barrier(count), context.Queue()
    workers = [context.Process(target=_start_like_a_node, args=(str(tmp_path), barrier, results))
               for _ in range(count)]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=PATIENCE) for _ in workers]
    for worker in workers:
        worker.join(PATIENCE)
    assert all(outcome[0] != "error" for outcome in outcomes), outcomes
    assert len(set(outcomes)) == 1
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temporary left


def test_a_key_file_made_by_another_process_first_wins(tmp_path, monkeypatch):
    target = tmp_path / "secret.key"
    real_link = os.link

    def another_process_links_first(source, destination):
        Path(destination).write_text("theirs")
        real_link(source, destination)

    monkeypatch.setattr(keyfile.os, "link", another_process_links_first)
    keyfile.create_once(target, "ours")
    assert target.read_text() == "theirs"
    assert [p.name for p in tmp_path.iterdir()] == ["secret.key"]
    assert (target.stat().st_mode & 0o777) in (0o600, 0o644)  # the other's file, as they made it
