"""A tablet's two keys at rest: the device secret (kept on the tablet outside its store) and the escrow key
(lets an online sign-in open the store when the PIN is disabled), made here at first enrolment.

They are kept sealed with AES-GCM (the `cryptography` package) under a key derived by HKDF from the server's
DEVICE_KEYS_SECRET (default: SECRET_KEY), with the device id as associated data, so a database copy or backup
alone opens no tablet and a sealed pair cannot be moved to another device's row. Never logged. Changing the
secret makes every sealed pair unreadable: the tablets then have to be enrolled again as new devices.
"""
from __future__ import annotations

import base64
import os
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_BYTES = 32
_VERSION = "v1:"
_NONCE = 12


class UnreadableKeys(Exception):
    """The sealed keys do not open with this server's secret (it changed, or the row was tampered with)."""


def new_keys() -> tuple[bytes, bytes]:
    """A fresh (device secret, escrow key), 32 random bytes each."""
    return secrets.token_bytes(KEY_BYTES), secrets.token_bytes(KEY_BYTES)


def _sealing_key(server_secret: str) -> AESGCM:
    kdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"gpoutreach device keys v1")
    return AESGCM(kdf.derive(server_secret.encode()))


def seal(server_secret: str, device_id: str, device_secret: bytes, escrow_key: bytes) -> str:
    """The two keys as one sealed text for the registry row."""
    nonce = os.urandom(_NONCE)
    box = _sealing_key(server_secret).encrypt(nonce, device_secret + escrow_key, device_id.encode())
    return _VERSION + base64.b64encode(nonce + box).decode()


def unseal(server_secret: str, device_id: str, sealed: str) -> tuple[bytes, bytes]:
    """(device secret, escrow key) from a sealed text; UnreadableKeys if it does not open."""
    if not sealed.startswith(_VERSION):
        raise UnreadableKeys("unknown sealing version")
    raw = base64.b64decode(sealed[len(_VERSION):])
    try:
        plain = _sealing_key(server_secret).decrypt(raw[:_NONCE], raw[_NONCE:], device_id.encode())
    except InvalidTag:
        raise UnreadableKeys("the keys do not open with this server's secret") from None
    return plain[:KEY_BYTES], plain[KEY_BYTES:]


def wire(key: bytes) -> str:
    """A key as the API sends it (standard base64)."""
    return base64.b64encode(key).decode()
