"""The tablet's lock rules (plain Python, no Kivy): which PINs are allowed, the wrong-PIN ladder, auto-lock
after inactivity, and the Keyring that turns a PIN or an online sign-in into the store key.

Times come from an injected clock (`now()` returns an aware datetime) so tests walk the ladder without
sleeping. The counters live in the key file beside the store (fieldapp/keys.py): the store is locked while
they are needed.
"""
from __future__ import annotations

import datetime as dt
import time
from typing import Callable

from .keys import KeyFile, WrongKey

PIN_MIN_LENGTH = 6
MAX_FAILURES = 10
IDLE_TIMEOUT_S = 5 * 60
# Seconds to wait before the next try, by the number of wrong tries so far (index); the 10th disables the PIN.
_LADDER = (0, 0, 0, 0, 30, 60, 120, 300, 900, 1800)


def wait_after(failures: int) -> int:
    """Seconds a member waits after this many wrong tries in a row (0 for the first few typing slips)."""
    return _LADDER[min(max(failures, 0), len(_LADDER) - 1)]


def pin_problem(pin: str, birth_date: dt.date | str | None = None) -> str | None:
    """Why this PIN is refused (a message key of fieldapp/ui/strings.py), or None if it is acceptable."""
    if pin and not (pin.isdigit() and pin.isascii()):
        return "pin.digits_only"
    if len(pin) < PIN_MIN_LENGTH:
        return "pin.too_short"
    if len(set(pin)) == 1:
        return "pin.same_digit"
    steps = {(int(b) - int(a)) % 10 for a, b in zip(pin, pin[1:])}
    if steps in ({1}, {9}):  # 123456, 654321, 890123: a run up or down the keypad
        return "pin.run"
    for size in (2, 3):  # 121212, 123123, 252525: a short block repeated
        if len(pin) % size == 0 and pin == pin[:size] * (len(pin) // size):
            return "pin.repeated"
    if birth_date and any(form in pin for form in _date_forms(birth_date)):
        return "pin.birth_date"
    return None


def _date_forms(birth_date: dt.date | str) -> set[str]:
    d = birth_date if isinstance(birth_date, dt.date) else dt.date.fromisoformat(str(birth_date)[:10])
    y4, y2, m, day = f"{d.year:04d}", f"{d.year % 100:02d}", f"{d.month:02d}", f"{d.day:02d}"
    return {y4 + m + day, y2 + m + day, day + m + y2, m + day + y2, day + m + y4, m + day + y4}


class PinDisabled(Exception):
    """Ten wrong tries: this member's PIN no longer opens the store; an online sign-in does."""


class TooSoon(Exception):
    """Wrong tries before: wait `seconds` more before the next one."""

    def __init__(self, seconds: int):
        super().__init__(f"wait {seconds} s")
        self.seconds = seconds


class WrongPin(Exception):
    """Not this member's PIN; `left` tries before it is disabled, `wait` seconds before the next one."""

    def __init__(self, left: int, wait: int):
        super().__init__(f"wrong PIN: {left} tries left, wait {wait} s")
        self.left = left
        self.wait = wait


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Keyring:
    """The key file with the rules on top: unlock by PIN (with the ladder), set a PIN, unlock online."""

    def __init__(self, keyfile: KeyFile, now: Callable[[], dt.datetime] = _utcnow):
        self.keyfile = keyfile
        self.now = now

    def members(self) -> list[dict]:
        """Members who set a PIN on this tablet: [{user_id, name, username, disabled, failures}]."""
        return [{"user_id": uid, "name": m.get("name") or m.get("username") or uid,
                 "username": m.get("username") or "", "disabled": bool(m.get("disabled")),
                 "failures": int(m.get("failures") or 0)}
                for uid, m in sorted(self.keyfile.members.items(), key=lambda kv: kv[1].get("name") or "")]

    def seconds_to_wait(self, user_id: str) -> int:
        """Seconds before this member may try a PIN again (0: now)."""
        entry = self.keyfile.members.get(str(user_id)) or {}
        failures = int(entry.get("failures") or 0)
        last = entry.get("last_failure_at")
        if not failures or not last:
            return 0
        ready = dt.datetime.fromisoformat(last) + dt.timedelta(seconds=wait_after(failures))
        now = self.now()
        if now < dt.datetime.fromisoformat(last):
            # The clock went backwards (set by hand?): count the wait from now rather than never unlocking.
            ready = now + dt.timedelta(seconds=wait_after(failures))
            entry["last_failure_at"] = now.isoformat()
            self.keyfile.save()
        return max(0, int((ready - now).total_seconds() + 0.999))

    def unlock_pin(self, user_id: str, pin: str) -> bytes:
        """The store key from this member's PIN; WrongPin, TooSoon or PinDisabled otherwise. Every wrong
        try is counted in the key file before the answer comes back (killing the app does not undo it)."""
        entry = self.keyfile.members.get(str(user_id))
        if entry is None:
            raise PinDisabled("no PIN on this tablet for this member")
        if entry.get("disabled"):
            raise PinDisabled("PIN disabled after too many wrong tries")
        wait = self.seconds_to_wait(user_id)
        if wait:
            raise TooSoon(wait)
        try:
            key = self.keyfile.open_pin(user_id, pin)
        except WrongKey:
            entry["failures"] = int(entry.get("failures") or 0) + 1
            entry["last_failure_at"] = self.now().isoformat()
            if entry["failures"] >= MAX_FAILURES:
                # The wrap is dropped, not only flagged: no later code path can open it with this PIN.
                self.disable(user_id)
                raise PinDisabled("PIN disabled after too many wrong tries") from None
            self.keyfile.save()
            raise WrongPin(MAX_FAILURES - entry["failures"], wait_after(entry["failures"])) from None
        if entry.get("failures"):
            entry["failures"], entry["last_failure_at"] = 0, None
            self.keyfile.save()
        return key

    def disable(self, user_id: str) -> None:
        """This member's PIN no longer opens the store (the server cut their sign-in off)."""
        entry = self.keyfile.members.get(str(user_id))
        if entry is not None and not entry.get("disabled"):
            entry["disabled"], entry["wrap"] = True, None
            self.keyfile.save()

    def set_pin(self, user_id: str, pin: str, store_key: bytes, *, name: str = "", username: str = "",
                birth_date: str | None = None) -> None:
        """Give this member a PIN (after a sign-in, online or by their PIN); ValueError(message key) if the PIN
        is trivial."""
        problem = pin_problem(pin, birth_date)
        if problem:
            raise ValueError(problem)
        self.keyfile.set_pin(str(user_id), pin, store_key, name=name, username=username)
        self.keyfile.save()


class IdleLock:
    """Auto-lock after `timeout` seconds without a touch; `clock` is monotonic seconds (injected in tests)."""

    def __init__(self, timeout: float = IDLE_TIMEOUT_S, clock: Callable[[], float] = time.monotonic):
        self.timeout = timeout
        self.clock = clock
        self.last = clock()

    def touch(self) -> None:
        """The member did something."""
        self.last = self.clock()

    def due(self) -> bool:
        """True once the tablet has been left alone for the timeout."""
        return self.clock() - self.last >= self.timeout
