"""Ed25519 signatures of published boards (the ``cryptography`` package; no hand-written
crypto).

``publish --sign KEY`` writes ``<rule set>.json.sig`` beside each board: the base64 Ed25519
signature of the board file's exact bytes. ``leaderboard verify --public-key KEY.pub`` checks
it. A valid signature shows that the holder of the private key published exactly this board;
the board's entries are checked separately against their predictions
(:mod:`ascbench.leaderboard.verify`). It does not show that the publisher ran the experiments
honestly.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from ascbench.atomic import atomic_write_bytes
from ascbench.errors import AscbenchError

SUFFIX = ".sig"


class SigningError(AscbenchError):
    """A key or signature cannot be used."""


def _crypto():
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError as exc:  # pragma: no cover - the test extra installs it
        raise SigningError(
            "signing needs the cryptography package: pip install 'ascbench[sign]'"
        ) from exc
    return ed25519, serialization, InvalidSignature


def generate_key(path: Path) -> tuple[Path, Path]:
    """A new private key at ``path`` (PEM, readable by its owner only) and its public key at
    ``path.pub``; refuses to overwrite an existing key."""
    ed25519, serialization, _ = _crypto()
    public = path.with_name(path.name + ".pub")
    for target in (path, public):
        if target.exists():
            raise SigningError(f"{target}: exists; keys are never overwritten, choose a new path")
    key = ed25519.Ed25519PrivateKey.generate()
    pem = serialization.Encoding.PEM
    private_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())  # fmt: skip
    public_pem = key.public_key().public_bytes(pem, serialization.PublicFormat.SubjectPublicKeyInfo)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(private_pem)
    atomic_write_bytes(public, public_pem)
    return path, public


def _load(path: Path, private: bool):
    ed25519, serialization, _ = _crypto()
    try:
        data = Path(path).read_bytes()
        key = (serialization.load_pem_private_key(data, password=None) if private
               else serialization.load_pem_public_key(data))  # fmt: skip
    except (OSError, ValueError, TypeError) as exc:
        kind = "private" if private else "public"
        raise SigningError(f"{path}: not a readable {kind} Ed25519 key in PEM ({exc})") from exc
    wanted = ed25519.Ed25519PrivateKey if private else ed25519.Ed25519PublicKey
    if not isinstance(key, wanted):
        raise SigningError(f"{path}: not an Ed25519 key; make one with `leaderboard keygen`")
    return key


def signature_bytes(data: bytes, key_path: Path) -> bytes:
    """The signature file's content for ``data``: base64 of the Ed25519 signature."""
    return base64.b64encode(_load(key_path, private=True).sign(data)) + b"\n"


def check_signature(board: Path, public_key: Path) -> str | None:
    """None when ``board`` has a valid signature by ``public_key``, else what is wrong."""
    _, _, invalid = _crypto()
    sig = board.with_name(board.name + SUFFIX)
    if not sig.is_file():
        return f"{board}: no signature ({sig.name}); publish it with --sign"
    key = _load(public_key, private=False)
    try:
        key.verify(base64.b64decode(sig.read_bytes().strip(), validate=True), board.read_bytes())
    except (invalid, ValueError):
        return f"{board}: the signature does not match this file and key {public_key}"
    return None
