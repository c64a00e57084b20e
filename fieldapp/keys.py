"""The tablet's key material: the store key K, its wraps, and the key file that holds them (plain Python).

The store file is encrypted by SQLCipher with a random 32-byte key K that is never written down in the clear.
K is kept twice, wrapped (AES-256-GCM, `cryptography`):

* once per team member, by a key derived with argon2id from that member's PIN together with the device
  secret the server gave the tablet at enrolment: the PIN alone, or the device secret alone, opens nothing;
* once by the server's escrow key for this device and team, which the tablet never keeps: an online sign-in
  fetches it again (enrolment answers with it) and unwraps K when a member's PIN is disabled or not set.

The wraps, the device id, the device secret and the wrong-PIN counters live in a small JSON key file BESIDE
the store (`<store>.keys`), never inside it. That file stands in for the platform keystore: on Android the
device secret would be a non-exportable Keystore key and the counters would be enforced there; on a desktop
test machine it is a file with mode 0600. Whoever copies both files can try PINs offline at argon2id's cost
(a third of a second each here), which is what the keystore exists to prevent; the wrong-PIN ladder in
fieldapp/lock.py holds only against someone using the app.
"""
from __future__ import annotations

import base64
import json
import os
import secrets
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
# argon2id at OWASP's first recommended setting (46 MiB, one pass, one lane). RFC 9106's t=3 / 64 MiB took
# 0.88 s per unlock on this 2-core machine under a load average of 14, too close to the 1 s budget; this
# one took 0.34 s there (bench/bench_lock.py). Each wrap records its parameters, so raising them later only
# applies to PINs set afterwards.
KDF = {"time_cost": 1, "memory_cost": 46 * 1024, "parallelism": 1}


class KeyMaterialError(Exception):
    """Key material is missing or does not open (wrong PIN, other device, damaged file)."""


class WrongKey(KeyMaterialError):
    """A wrap did not open with this key: a wrong PIN, or a wrap from another device or team."""


def b64(raw: bytes) -> str:
    """Bytes as the key file and the server write them."""
    return base64.b64encode(raw).decode("ascii")


def unb64(text: str, length: int | None = KEY_BYTES) -> bytes:
    """Decode base64 and check the length of a key (the server's answer is not trusted blindly)."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (ValueError, TypeError) as err:
        raise KeyMaterialError("key is not base64") from err
    if length is not None and len(raw) != length:
        raise KeyMaterialError(f"key must be {length} bytes, got {len(raw)}")
    return raw


def new_store_key() -> bytes:
    """A fresh random store key K."""
    return secrets.token_bytes(KEY_BYTES)


def pin_key(pin: str, device_secret: bytes, salt: bytes, kdf: dict | None = None) -> bytes:
    """The key that wraps K for one member: argon2id over the device secret and the PIN."""
    params = kdf or KDF
    return hash_secret_raw(device_secret + pin.encode("utf-8"), salt, hash_len=KEY_BYTES, type=Type.ID,
                           time_cost=params["time_cost"], memory_cost=params["memory_cost"],
                           parallelism=params["parallelism"])


def wrap(kek: bytes, key: bytes, aad: str) -> dict:
    """K sealed by a key-encryption key; `aad` binds the wrap to its device and purpose (no swapping)."""
    nonce = secrets.token_bytes(12)
    return {"nonce": b64(nonce), "ct": b64(AESGCM(kek).encrypt(nonce, key, aad.encode()))}


def unwrap(kek: bytes, sealed: dict, aad: str) -> bytes:
    """K from a wrap, or WrongKey."""
    try:
        return AESGCM(kek).decrypt(unb64(sealed["nonce"], 12), unb64(sealed["ct"], None), aad.encode())
    except (InvalidTag, KeyError, KeyMaterialError) as err:
        raise WrongKey("this key does not open the store key") from err


def keyfile_path(store_path: str | os.PathLike) -> Path:
    """Where the key file of a store lives: beside it."""
    return Path(f"{os.fspath(store_path)}.keys")


@dataclass
class KeyFile:
    """The JSON key file: device id and secret, the escrow wrap, and each member's PIN wrap and counters.

    members: {user_id (str): {"name", "username", "salt", "kdf", "wrap", "failures", "last_failure_at",
    "disabled"}}."""

    path: Path
    device_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    device_secret: str | None = None
    team_id: int | None = None
    escrow_wrap: dict | None = None
    members: dict[str, dict] = field(default_factory=dict)
    server_url: str | None = None  # not secret: prefills the sign-in screen while the store is locked

    @classmethod
    def load(cls, path: str | os.PathLike) -> KeyFile:
        """Read a key file (KeyMaterialError if it is damaged)."""
        p = Path(path)
        try:
            data = json.loads(p.read_text("utf-8"))
        except (OSError, ValueError) as err:
            raise KeyMaterialError(f"cannot read the key file {p}: {err}") from err
        return cls(path=p, device_id=data["device_id"], device_secret=data.get("device_secret"),
                   team_id=data.get("team_id"), escrow_wrap=data.get("escrow_wrap"),
                   members=data.get("members") or {}, server_url=data.get("server_url"))

    @classmethod
    def load_or_new(cls, path: str | os.PathLike) -> KeyFile:
        """The key file if there is one, else a new (unsaved) one with a fresh device id."""
        p = Path(path)
        return cls.load(p) if p.exists() else cls(path=p)

    @property
    def enrolled(self) -> bool:
        """True once the server gave this tablet its secret and K is escrowed."""
        return bool(self.device_secret and self.escrow_wrap)

    def save(self) -> None:
        """Write atomically (a crash leaves the old file or the new one, never half of one), mode 0600."""
        data = {"device_id": self.device_id, "device_secret": self.device_secret, "team_id": self.team_id,
                "escrow_wrap": self.escrow_wrap, "members": self.members, "server_url": self.server_url}
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, ensure_ascii=False)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    # --- the wraps ----------------------------------------------------------------------------------

    def _aad(self, purpose: str) -> str:
        return f"gpo-store-key|{self.device_id}|{purpose}"

    def set_escrow(self, escrow_key: bytes, store_key: bytes) -> None:
        """Wrap K by the server's escrow key (the escrow key itself is not kept)."""
        self.escrow_wrap = wrap(escrow_key, store_key, self._aad("escrow"))

    def open_escrow(self, escrow_key: bytes) -> bytes:
        """K from the escrow wrap (an online sign-in), or WrongKey."""
        if not self.escrow_wrap:
            raise WrongKey("no escrow wrap on this tablet")
        return unwrap(escrow_key, self.escrow_wrap, self._aad("escrow"))

    def set_pin(self, user_id: str, pin: str, store_key: bytes, *, name: str = "", username: str = "") -> None:
        """Wrap K for this member under a key from the PIN and the device secret; clears their counters."""
        salt = secrets.token_bytes(16)
        kek = pin_key(pin, self._secret(), salt)
        self.members[str(user_id)] = {
            "name": name, "username": username, "salt": b64(salt), "kdf": dict(KDF),
            "wrap": wrap(kek, store_key, self._aad(f"pin|{user_id}")), "failures": 0,
            "last_failure_at": None, "disabled": False}

    def open_pin(self, user_id: str, pin: str) -> bytes:
        """K from this member's PIN wrap, or WrongKey (the ladder is fieldapp/lock.py's)."""
        entry = self.members.get(str(user_id))
        if not entry or not entry.get("wrap"):
            raise WrongKey("no PIN set for this member")
        kek = pin_key(pin, self._secret(), unb64(entry["salt"], 16), entry.get("kdf"))
        return unwrap(kek, entry["wrap"], self._aad(f"pin|{user_id}"))

    def _secret(self) -> bytes:
        if not self.device_secret:
            raise KeyMaterialError("this tablet is not enrolled: no device secret")
        return unb64(self.device_secret)
