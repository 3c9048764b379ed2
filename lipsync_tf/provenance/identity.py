"""Who signs the C2PA manifest: the user's certificate, or a local identity made once.

C2PA needs an X.509 certificate that is not self-signed (../shared/DEPENDENCIES.md: a self-signed
one fails with "the certificate is invalid"). Without the user's own (`--signing_cert` /
`--signing_key`, or LIPSYNC_TF_SIGNING_CERT / LIPSYNC_TF_SIGNING_KEY), the first signed output
creates a local identity in the cache (`$LIPSYNC_TF_CACHE/signing`, default
`~/.cache/lipsync_tf/signing`): a small CA that issues one P-256 signer certificate, after which
the CA's private key is thrown away, so nothing else can ever be issued under it. The signer's key
file is mode 0600 and never leaves the cache. Manifests it signs validate, but nobody else trusts
that CA: verifiers report the signer as untrusted until you sign with a certificate of your own.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import os
import shutil
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from lipsync_tf.errors import LipsyncError
from lipsync_tf.preprocessing.model_files import cache_root
from lipsync_tf.provenance.marks import CERT_ENV, KEY_ENV

LOCAL_ORGANIZATION = "lipsync_tf (local identity, untrusted)"
LOCAL_SIGNER = "lipsync_tf local signer"
CHAIN_NAME, KEY_NAME = "signer_chain.pem", "signer_key.pem"
LOCAL_VALIDITY = datetime.timedelta(days=3650)


class SigningError(LipsyncError):
    """The signing certificate or key cannot be used."""


@dataclasses.dataclass(frozen=True)
class SigningIdentity:
    """A PEM certificate chain (signer first) and its PKCS#8 PEM key, ready for c2pa.

    `alg` is the C2PA name of the signature algorithm the key implies (es256, ps256, ...);
    `local` says whether this is the cache's own untrusted identity.
    """

    chain_pem: bytes
    key_pem: bytes
    alg: str
    common_name: str
    local: bool

    def describe(self) -> str:
        if self.local:
            return (
                f'the local identity "{self.common_name}" (untrusted by others until you use '
                "your own certificate: --signing_cert/--signing_key)"
            )
        return f'"{self.common_name}"'


def signing_dir() -> Path:
    """Where the local identity lives: `$LIPSYNC_TF_CACHE/signing` (default ~/.cache/...)."""
    return cache_root() / "signing"


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, LOCAL_ORGANIZATION),
        ]
    )


def _key_usage(sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=sign, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=not sign,
        crl_sign=not sign, encipher_only=False, decipher_only=False,
    )  # fmt: skip


def _make_local_identity() -> tuple[bytes, bytes]:
    """(chain PEM, key PEM) of a fresh signer certificate issued by a throw-away local CA.

    The extensions are the ones C2PA's validator wants (DEPENDENCIES.md, "Provenance").
    """
    now = datetime.datetime.now(datetime.UTC)
    start, end = now - datetime.timedelta(minutes=5), now + LOCAL_VALIDITY
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("lipsync_tf local CA")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(sign=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    signer = (
        x509.CertificateBuilder()
        .subject_name(_name(LOCAL_SIGNER))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(sign=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    chain = signer.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(
        serialization.Encoding.PEM
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return chain, key_pem  # the CA's key goes out of scope here and is never written


def local_identity(directory: Path | None = None) -> SigningIdentity:
    """The local identity in `directory` (default `signing_dir()`), created on first use.

    Creation is atomic: the files are written into a private temporary folder which is then
    renamed into place, so concurrent first runs end up sharing one identity and a crash leaves
    no half-written key.
    """
    directory = Path(directory) if directory is not None else signing_dir()
    if not (directory / CHAIN_NAME).is_file():
        directory.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".signing-", dir=directory.parent))  # mode 0700
        try:
            chain, key = _make_local_identity()
            (staging / CHAIN_NAME).write_bytes(chain)
            descriptor = os.open(staging / KEY_NAME, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as stream:
                stream.write(key)
            (staging / "README.txt").write_text(
                "lipsync_tf's local C2PA signing identity, made on first use. Manifests signed\n"
                "with it validate but are untrusted by others; sign with your own certificate\n"
                "(bin/generate --signing_cert CHAIN.pem --signing_key KEY.pem). Never share\n"
                f"{KEY_NAME}. Delete this folder to make a new identity.\n"
            )
            os.rename(staging, directory)
        except OSError:
            if not (directory / CHAIN_NAME).is_file():  # not another process winning the race
                raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    identity = load_identity(directory / CHAIN_NAME, directory / KEY_NAME, local=True)
    certificate = x509.load_pem_x509_certificates(identity.chain_pem)[0]
    if certificate.not_valid_after_utc < datetime.datetime.now(datetime.UTC):
        raise SigningError(
            f"the local signing certificate in {directory} expired on "
            f"{certificate.not_valid_after_utc:%Y-%m-%d}; delete that folder to make a new one."
        )
    return identity


def _algorithm(key) -> str:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        names = {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}
        if key.curve.name in names:
            return names[key.curve.name]
    elif isinstance(key, rsa.RSAPrivateKey):
        return "ps256"
    elif isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    raise SigningError(
        f"signing key type {type(key).__name__} is not one C2PA signs with; use an EC "
        "(P-256/384/521), RSA or Ed25519 key."
    )


def load_identity(cert_path: str | Path, key_path: str | Path, local: bool = False):
    """A `SigningIdentity` from a PEM chain (signer certificate first) and a PEM private key."""
    cert_path, key_path = Path(cert_path), Path(key_path)
    for what, path in (("certificate", cert_path), ("key", key_path)):
        if not path.is_file():
            raise SigningError(f"signing {what} {path} does not exist; check the path.")
    try:
        certificates = x509.load_pem_x509_certificates(cert_path.read_bytes())
    except ValueError as error:
        raise SigningError(
            f"signing certificate {cert_path} is not a PEM certificate chain ({error}); give "
            "the signer's certificate first, then its issuers, in PEM."
        ) from error
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (ValueError, TypeError) as error:
        raise SigningError(
            f"signing key {key_path} cannot be read ({error}); give an unencrypted PEM private "
            "key (e.g. openssl pkcs8 -topk8 -nocrypt)."
        ) from error
    signer = certificates[0]
    der, public = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if signer.public_key().public_bytes(der, public) != key.public_key().public_bytes(der, public):
        raise SigningError(
            f"signing key {key_path} does not belong to the first certificate in {cert_path}; "
            "give the key of the signer's certificate."
        )
    names = signer.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return SigningIdentity(
        chain_pem=b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates),
        key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        alg=_algorithm(key),
        common_name=str(names[0].value) if names else signer.subject.rfc4514_string(),
        local=local,
    )


def resolve_identity(cert: str | None = None, key: str | None = None) -> SigningIdentity:
    """The user's identity when a certificate and key are given (arguments, else the environment
    variables), else the local one."""
    cert = cert or os.environ.get(CERT_ENV) or None
    key = key or os.environ.get(KEY_ENV) or None
    if cert is None and key is None:
        return local_identity()
    if cert is None or key is None:
        given, missing = ("certificate", "key") if cert else ("key", "certificate")
        raise SigningError(
            f"a signing {given} was given without its {missing}; give both (--signing_cert and "
            f"--signing_key, or {CERT_ENV} and {KEY_ENV}), or neither for the local identity."
        )
    return _checked_user_identity(str(Path(cert).resolve()), str(Path(key).resolve()))


@functools.lru_cache(maxsize=4)
def _checked_user_identity(cert: str, key: str) -> SigningIdentity:
    from lipsync_tf.provenance.c2pa_manifest import check_signing

    identity = load_identity(cert, key)
    check_signing(identity, cert)  # fails now, not after a long generation
    return identity
