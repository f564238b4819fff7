"""A private certificate authority and a server certificate for the bank's host names, so
browsers on other machines reach the suite over https (camera and microphone need it)."""
from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_DAYS = 3650
SERVER_DAYS = 397  # browsers refuse server certificates valid for longer


class TlsSetupError(ValueError):
    """Bad host names, or files that would be overwritten."""


@dataclass(frozen=True)
class TlsFiles:
    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Loan Acceptance Suite"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        pass
    labels = host.split(".")
    if not host or len(host) > 253 or not all(
            label and len(label) <= 63 and label.replace("-", "").isalnum() and label.isascii()
            for label in (labels[1:] if labels[0] == "*" else labels)):
        raise TlsSetupError(f"not a host name or IP address: {host!r}")
    return x509.DNSName(host.lower())


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _make_ca(now: dt.datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("Loan Acceptance Suite private CA")
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
          .not_valid_after(now + dt.timedelta(days=CA_DAYS))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    return ca, ca_key


def init_tls(directory: Path, hosts: list[str], *, force: bool = False, new_ca: bool = False,
             now: dt.datetime | None = None) -> TlsFiles:
    """Write server.pem / server-key.pem for ``hosts``, signed by the CA in ca.pem / ca-key.pem,
    which is made first when absent (or with ``new_ca``). An existing CA is reused, so renewing
    the server certificate needs no new trust on the members' machines."""
    hosts = [h.strip() for h in hosts if h.strip()]
    if not hosts:
        raise TlsSetupError("give at least one host name (--hosts committee.bank.local,10.0.0.5)")
    names = [_san(h) for h in hosts]
    directory.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(directory / "ca.pem", directory / "ca-key.pem", directory / "server.pem",
                     directory / "server-key.pem")
    if not force and files.server_cert.exists():
        raise TlsSetupError(f"{directory} already holds a server certificate; use --force to replace it")
    now = now or dt.datetime.now(dt.timezone.utc)
    if new_ca or not (files.ca_cert.exists() and files.ca_key.exists()):
        ca, ca_key = _make_ca(now)
        _write_key(files.ca_key, ca_key)
        files.ca_cert.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    else:
        ca = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
        ca_key = serialization.load_pem_private_key(files.ca_key.read_bytes(), password=None)
    ca_name = ca.subject
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = (x509.CertificateBuilder().subject_name(_name(hosts[0])).issuer_name(ca_name)
              .public_key(server_key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=SERVER_DAYS))
              .add_extension(x509.SubjectAlternativeName(names), critical=False)
              .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
              .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
              .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
              .sign(ca_key, hashes.SHA256()))
    _write_key(files.server_key, server_key)
    # The chain (server then CA) so clients that were given only the CA can build the path.
    files.server_cert.write_bytes(server.public_bytes(serialization.Encoding.PEM)
                                  + ca.public_bytes(serialization.Encoding.PEM))
    return files


def trust_steps(files: TlsFiles) -> str:
    return f"""Private CA:         {files.ca_cert}   (give this file to every committee member's machine)
Server certificate: {files.server_cert}
Server key:         {files.server_key}   (keep secret; {files.ca_key} too - store it offline)

Serve with TLS:
  export LOANCTL_TLS_CERT={files.server_cert}
  export LOANCTL_TLS_KEY={files.server_key}
  loanctl serve

Trust the CA on each member's machine:
  Windows:  certutil -addstore -f Root ca.pem      (as administrator; Chrome and Edge use it)
  macOS:    sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain ca.pem
  Debian/Ubuntu: sudo cp ca.pem /usr/local/share/ca-certificates/loan-suite-ca.crt && sudo update-ca-certificates
  Firefox:  Settings > Privacy & Security > Certificates > View Certificates > Authorities > Import ca.pem
            (tick "Trust this CA to identify websites")
  Chrome on Linux: Settings > Privacy and security > Security > Manage certificates > Authorities > Import
Then open https://<one of the host names>:<port>/ - no certificate warning may appear."""
