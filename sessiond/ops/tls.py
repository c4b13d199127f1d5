"""TLS for the gRPC port: server credentials from PEM files, checked at start.

The files are checked with the standard library's ssl module before grpc sees them, so
a wrong path, a key that does not match the certificate or an empty CA bundle stops the
service at start with a message naming the setting, instead of failing every handshake.
"""

from __future__ import annotations

import ssl
from typing import NoReturn

import grpc

from sessiond.ops.config_error import OpsConfigError

CERT = "--tls-cert (SESSIOND_TLS_CERT)"
KEY = "--tls-key (SESSIOND_TLS_KEY)"
CLIENT_CA = "--tls-client-ca (SESSIOND_TLS_CLIENT_CA)"


def server_credentials(cert: str, key: str, client_ca: str = "") -> grpc.ServerCredentials | None:
    """Server credentials for the gRPC port, or None for plaintext (see `checked_files`)."""
    files = checked_files(cert, key, client_ca)
    if files is None:
        return None
    cert_pem, key_pem, ca_pem, _ = files
    return grpc.ssl_server_credentials(
        [(key_pem, cert_pem)], root_certificates=ca_pem, require_client_auth=ca_pem is not None
    )


def server_ssl_context(cert: str, key: str, client_ca: str = "") -> ssl.SSLContext | None:
    """The same TLS settings as an ``ssl`` context, for the HTTP console; None for plaintext."""
    files = checked_files(cert, key, client_ca)
    return None if files is None else files[3]


def checked_files(cert: str, key: str, client_ca: str = "") -> tuple[bytes, bytes, bytes | None, ssl.SSLContext] | None:
    """The PEM certificate chain, key and client CAs of the TLS settings, checked, with an
    ``ssl`` server context made of them; None for plaintext.

    Args:
        cert: PEM file of the server certificate chain (leaf first); empty for plaintext.
        key: PEM file of the certificate's private key (not encrypted).
        client_ca: PEM file of the CAs that sign client certificates. When given,
            every client must present a certificate signed by one of them (mutual TLS).

    Returns:
        The files' contents and the context, or None when no TLS setting is given.

    Raises:
        OpsConfigError: A setting is missing, a file is unreadable or not PEM, the key
            does not match the certificate, or the CA file holds no certificate.
    """
    if not (cert or key or client_ca):
        return None
    if not cert or not key:
        have, missing = (CERT, KEY) if cert else (KEY, CERT)
        if not cert and not key:
            raise OpsConfigError(f"{CLIENT_CA} (mutual TLS) needs {CERT} and {KEY}")
        raise OpsConfigError(f"{have} is set but {missing} is not: TLS needs both the certificate and its key")
    cert_pem = _read(cert, CERT, b"-----BEGIN CERTIFICATE-----", "certificate")
    key_pem = _read(key, KEY, b"PRIVATE KEY-----", "private key")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(cert, key, password=_no_password)
    except ssl.SSLError as exc:
        raise OpsConfigError(f"{CERT} {cert} and {KEY} {key} do not go together: {_reason(exc)}") from exc
    ca_pem = None
    if client_ca:
        ca_pem = _read(client_ca, CLIENT_CA, b"-----BEGIN CERTIFICATE-----", "CA certificate")
        try:
            context.load_verify_locations(cafile=client_ca)
        except ssl.SSLError as exc:
            raise OpsConfigError(f"{CLIENT_CA} {client_ca} holds no usable CA certificate: {_reason(exc)}") from exc
        context.verify_mode = ssl.CERT_REQUIRED
    return cert_pem, key_pem, ca_pem, context


def _read(path: str, setting: str, marker: bytes, what: str) -> bytes:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise OpsConfigError(f"{setting}: cannot read {path}: {exc.strerror or exc}") from exc
    if marker not in data:
        raise OpsConfigError(f"{setting}: {path} holds no PEM {what}")
    return data


def _no_password() -> NoReturn:
    # Without this callback OpenSSL would prompt on the terminal for an encrypted key.
    raise OpsConfigError(f"{KEY} is encrypted; give the key without a passphrase (mount it from a Secret)")


def _reason(exc: ssl.SSLError) -> str:
    return str(exc.reason or exc).replace("_", " ").lower()
