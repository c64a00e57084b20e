"""A tablet's life in the device registry: the states, who moves it between them, and what each allows.

Center staff order a tablet retired (it sends what it holds, then wipes itself) or lost (it wipes at its next
contact without sending anything); the tablet confirms the wipe. The same table answers the server (what to
accept from a tablet) and the tablet (what an answer means), so both read the states from here.
"""
from __future__ import annotations

ACTIVE, RETIRE, LOST, WIPED = "active", "retire", "lost", "wiped"
STATES = (ACTIVE, RETIRE, LOST, WIPED)
RETIRE_ORDER, LOST_ORDER = "retire", "lost"
ORDERS = (RETIRE_ORDER, LOST_ORDER)

# From which states center staff may give each order. A tablet due for retirement that goes missing before
# it came back is then lost; a lost one is not "retired" back (nothing it holds may be accepted any more).
_ORDER_FROM = {RETIRE_ORDER: {ACTIVE: RETIRE}, LOST_ORDER: {ACTIVE: LOST, RETIRE: LOST}}
# A tablet confirms a wipe only when told to wipe; confirming twice (a lost answer) changes nothing.
_WIPE_FROM = {RETIRE: WIPED, LOST: WIPED, WIPED: WIPED}

STATE_LABELS = {ACTIVE: "在用", RETIRE: "待退役", LOST: "已挂失", WIPED: "已清除"}
ORDER_LABELS = {RETIRE_ORDER: "退役", LOST_ORDER: "挂失"}


class StateError(ValueError):
    """The order or confirmation does not fit the tablet's state; `state` is the state it is in."""

    def __init__(self, message: str, zh: str, state: str):
        super().__init__(message)
        self.zh = zh
        self.state = state


def after_order(state: str, order: str) -> str:
    """The state a tablet in `state` moves to on center staff's `order` (retire | lost); StateError if none."""
    if order not in _ORDER_FROM:
        raise ValueError(f"unknown order {order!r}")
    to = _ORDER_FROM[order].get(state)
    if to is None:
        raise StateError(f"A {state} device cannot be marked {order}.",
                         f"“{STATE_LABELS.get(state, state)}”的设备不能{ORDER_LABELS[order]}。",
                         state)
    return to


def after_wipe(state: str) -> str:
    """The state once the tablet confirms it wiped itself; StateError if it was never told to."""
    to = _WIPE_FROM.get(state)
    if to is None:
        raise StateError(f"A {state} device was not told to wipe itself.",
                         f"“{STATE_LABELS.get(state, state)}”的设备没有收到清除指令。", state)
    return to


def receives_keys(state: str) -> bool:
    """Only an active tablet gets its device secret and escrow key (a retiring one has no new sign-in to open)."""
    return state == ACTIVE


def may_sync(state: str) -> bool:
    """Active and retiring tablets sync (a retiring one must still send what it holds); lost and wiped ones
    are cut off: nothing they push is accepted and nothing is sent to them."""
    return state in (ACTIVE, RETIRE)


def must_wipe(state: str) -> bool:
    """The tablet wipes itself: at once when lost, once its outbox is empty when retiring."""
    return state in (RETIRE, LOST)


def waiting_to_keep(state: str, kept: int | None, reported: int) -> int:
    """The waiting-changes count the registry keeps when a tablet reports `reported`. Nothing a lost tablet
    sends is accepted, so what it holds can only grow: keep the most it reported (a tablet that files a
    refused batch away as needs-attention then reports fewer, though none of them reached the server)."""
    if state == LOST and kept is not None:
        return max(kept, reported)
    return reported
