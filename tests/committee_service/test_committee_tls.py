"""`loanctl tls init` makes a CA and a server certificate; `loanctl serve committee` (its own
process) then serves https and Socket.IO over wss, trusted through that CA alone."""
from __future__ import annotations

import asyncio
import os
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
import socketio

from committee.tls import TlsSetupError, init_tls
from core.cli import main as loanctl
from tests.waiting import PATIENCE, limit

from committee_peers import wait_for  # tests/committee, on sys.path (conftest)

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_tls_init_refuses_bad_hosts_and_overwriting(tmp_path):
    with pytest.raises(TlsSetupError):
        init_tls(tmp_path, ["bad host!"])
    with pytest.raises(TlsSetupError):
        init_tls(tmp_path, [])
    first = init_tls(tmp_path, ["committee.bank.local"])
    with pytest.raises(TlsSetupError, match="--force"):
        init_tls(tmp_path, ["committee.bank.local"])
    assert oct(os.stat(first.server_key).st_mode & 0o777) == "0o600"
    assert oct(os.stat(first.ca_key).st_mode & 0o777) == "0o600"
    # renewing keeps the CA members already trust, and the new certificate chains to it
    ca = first.ca_cert.read_bytes()
    renewed = init_tls(tmp_path, ["committee.bank.local", "10.20.0.5"], force=True)
    assert renewed.ca_cert.read_bytes() == ca
    context = ssl.create_default_context(cafile=str(renewed.ca_cert))
    context.load_cert_chain(renewed.server_cert, renewed.server_key)
    from cryptography import x509

    server = x509.load_pem_x509_certificate(renewed.server_cert.read_bytes())
    issuer = x509.load_pem_x509_certificate(ca)
    server.verify_directly_issued_by(issuer)
    assert "10.20.0.5" in str(server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)


async def test_committee_service_serves_https_with_the_private_ca(tmp_path, capsys):
    data = tmp_path / "data"
    assert await asyncio.to_thread(loanctl, ["tls", "init", "--hosts", "localhost,127.0.0.1", "--data", str(data)]) == 0
    steps = capsys.readouterr().out
    assert "LOANCTL_TLS_CERT" in steps and "update-ca-certificates" in steps
    tls = data / "tls"
    port = free_port()
    env = {**os.environ, "LOANCTL_DATA": str(data), "LOANCTL_TLS_CERT": str(tls / "server.pem"),
           "LOANCTL_TLS_KEY": str(tls / "server-key.pem"), "LOANCTL_DATABASE_URL": ""}
    child = subprocess.Popen([sys.executable, "-m", "core.cli", "serve", "committee", "--no-demo", "--port", str(port)],
                             cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    trusted = ssl.create_default_context(cafile=str(tls / "ca.pem"))
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=trusted)) as http:
            deadline = asyncio.get_running_loop().time() + limit(60)
            while True:
                try:
                    async with http.get(f"https://localhost:{port}/healthz") as reply:
                        health = await reply.json()
                        break
                except aiohttp.ClientConnectorError:
                    if child.poll() is not None or asyncio.get_running_loop().time() > deadline:
                        raise AssertionError(child.stdout.read().decode() if child.poll() is not None else "no start")
                    await asyncio.sleep(0.3)
            assert health == {"status": "ok", "service": "committee", "database": "up"}
            # without the CA the certificate is not trusted
            with pytest.raises(aiohttp.ClientConnectorCertificateError):
                async with aiohttp.ClientSession() as untrusting:
                    await untrusting.get(f"https://localhost:{port}/healthz")
            # Socket.IO over wss: reached, and a connection without a join token is refused
            client = socketio.AsyncClient(reconnection=False, http_session=http)
            reasons = []
            client.on("connect_error", lambda data: reasons.append(data))
            with pytest.raises(socketio.exceptions.ConnectionError):
                await client.connect(f"https://localhost:{port}", auth={}, transports=["websocket"], wait_timeout=PATIENCE)
            await wait_for(lambda: reasons, PATIENCE, "the refusal's reason")
            assert "join token" in str(reasons[0])
    finally:
        child.terminate()
        child.wait(timeout=PATIENCE)
