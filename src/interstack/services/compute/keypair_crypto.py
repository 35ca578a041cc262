"""Key material of key pairs: generation and fingerprints, computed as Nova computes them."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from interstack.errors import BadRequest

_INVALID = "Keypair data is invalid: failed to generate fingerprint"


def _colon_hex(digest: bytes) -> str:
    return ":".join(f"{b:02x}" for b in digest)


def ssh_fingerprint(public_key: str) -> str:
    """MD5 of the key blob, colon separated; 400 if the text is no OpenSSH public key."""
    try:
        key = serialization.load_ssh_public_key(public_key.strip().encode())
    except (ValueError, UnicodeError) as exc:
        raise BadRequest(_INVALID) from exc
    blob = key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    raw = base64.b64decode(blob.split(b" ")[1])
    return _colon_hex(hashlib.md5(raw, usedforsecurity=False).digest())


def x509_fingerprint(certificate: str) -> str:
    """SHA-1 of the certificate, colon separated; 400 if the text is no PEM certificate."""
    try:
        cert = x509.load_pem_x509_certificate(certificate.strip().encode())
    except (ValueError, UnicodeError) as exc:
        raise BadRequest(_INVALID) from exc
    return _colon_hex(cert.fingerprint(hashes.SHA1()))  # noqa: S303 - Nova's fingerprint


def _new_rsa_key() -> tuple[rsa.RSAPrivateKey, str]:
    """A 2048-bit RSA key and its PEM text (the traditional format every SSH client reads)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    return key, pem


def generate_ssh_key(comment: str) -> tuple[str, str]:
    """A new RSA key, as Nova makes them: (PEM private key, ``ssh-rsa ... comment``)."""
    key, private = _new_rsa_key()
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return private, f"{public.decode()} {comment}"


def generate_x509_certificate(user_id: str) -> tuple[str, str]:
    """A new self-signed client certificate for ``user_id`` (WinRM style): (private key, cert)."""
    key, private = _new_rsa_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, user_id)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return private, cert.public_bytes(serialization.Encoding.PEM).decode()
