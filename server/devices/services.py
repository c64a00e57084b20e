"""The device registry's use cases: enrol a tablet, record its contact on each sync, list and read the
registry, center staff's orders (retire, lost), the tablet's confirmation that it wiped itself."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session, aliased

from gpcore import devices as rules

from ..audit import services as audit
from ..auth.models import User
from ..errors import Conflict, Forbidden
from ..org.models import Team
from ..scope import (Actor, devices_visible, require_device, require_device_manager, require_team_member,
                     uses_tablets)
from . import keys
from .models import Device


class DeviceLost(Forbidden):
    code = "device_lost"


class DeviceWiped(Forbidden):
    code = "device_wiped"


class DeviceOtherTeam(Conflict):
    code = "device_other_team"


class DeviceState(Conflict):
    code = "device_state"


class DeviceKeysUnreadable(Conflict):
    code = "device_keys_unreadable"


def _lost() -> DeviceLost:
    return DeviceLost("This device was reported lost: it must wipe itself; nothing it sends is accepted.",
                      {"device": ["device_lost"]}, zh="此设备已挂失：设备须自行清除数据，其发送的任何内容均不予接收。")


def _wiped() -> DeviceWiped:
    return DeviceWiped("This device confirmed it was wiped; enrol it again as a new device.",
                       {"device": ["device_wiped"]}, zh="此设备已确认清除；如需再用，请作为新设备重新登记。")


def _other_team() -> DeviceOtherTeam:
    return DeviceOtherTeam("This device is enrolled to another team; it cannot be used by a member of yours.",
                           {"device_id": ["device_other_team"]}, zh="此设备已登记在其他团队，本团队成员不能使用。")


@dataclass(frozen=True)
class Report:
    """What a tablet reports about itself on a request (headers on sync, the body on enrolment)."""

    pending_changes: int | None = None
    app_version: str | None = None
    store_version: int | None = None
    model: str | None = None


@dataclass
class Enrolment:
    device: Device
    created: bool
    device_secret: bytes | None = None
    escrow_key: bytes | None = None


def _refusal(device: Device):
    """The error a tablet in this state gets on any sync or enrolment, or None if it may go on."""
    if rules.may_sync(device.state):
        return None
    return _lost() if device.state == rules.LOST else _wiped()


def _note_contact(device: Device, actor: Actor, report: Report, now: dt.datetime) -> None:
    device.last_contact_at = now
    device.last_user_id = actor.user_id
    if report.pending_changes is not None:
        device.pending_changes = rules.waiting_to_keep(device.state, device.pending_changes, report.pending_changes)
        device.pending_reported_at = now
    for field in ("app_version", "store_version", "model"):
        value = getattr(report, field)
        if value is not None:
            setattr(device, field, value)


def enrol(session: Session, actor: Actor, device_id: str, report: Report, server_secret: str,
          now: dt.datetime) -> Enrolment:
    """Register a tablet on a team member's online sign-in (first time: make its keys), or enrol one more member
    of the same team on it; an active tablet gets its keys, a retiring one none; lost/wiped/another team's: refused."""
    team_id = require_team_member(actor, "Only a member of a GP team enrols a tablet.")
    device = session.get(Device, device_id, with_for_update=True)
    if device is None:
        team = session.get(Team, team_id)
        secret, escrow = keys.new_keys()
        device = Device(id=device_id, team_id=team_id, center_id=team.center_id, state=rules.ACTIVE,
                        model=report.model, app_version=report.app_version, store_version=report.store_version,
                        sealed_keys=keys.seal(server_secret, device_id, secret, escrow), enrolled_at=now,
                        enrolled_by=actor.user_id)
        session.add(device)
        _note_contact(device, actor, report, now)
        session.flush()
        audit.record(session, actor, "device_enrol", "device", device_id,
                     detail={"team_id": team_id, "created": True, "state": device.state})
        return Enrolment(device, True, secret, escrow)
    refusal = _refusal(device)
    if refusal is None and device.team_id != team_id:
        refusal = _other_team()
    if refusal is not None:
        raise refusal
    _note_contact(device, actor, report, now)
    audit.record(session, actor, "device_enrol", "device", device_id,
                 detail={"team_id": team_id, "created": False, "state": device.state})
    if not rules.receives_keys(device.state):
        return Enrolment(device, False)
    try:
        secret, escrow = keys.unseal(server_secret, device_id, device.sealed_keys)
    except keys.UnreadableKeys:
        raise DeviceKeysUnreadable(
            "This device's keys cannot be opened with the server's current secret; enrol it as a new device.",
            {"device_id": ["device_keys_unreadable"]},
            zh="服务器密钥已更换，无法取出此设备的密钥；请作为新设备重新登记。") from None
    return Enrolment(device, False, secret, escrow)


@dataclass(frozen=True)
class Contact:
    """A sync request's tablet as the registry knows it: its state (None: not enrolled), the refusal to
    answer with (None: go on), and whether its report was recorded (a member of its own team signed in)."""

    state: str | None
    refusal: Exception | None = None
    recorded: bool = False


def sync_contact(session: Session, actor: Actor | None, device_id: str, report: Report,
                 now: dt.datetime) -> Contact:
    """Record a sync request from a tablet. The caller commits what was recorded before answering the
    refusal, so a lost tablet's last reported waiting changes stay in the registry. The state is told to
    anyone who names the tablet (a lost one learns it must wipe even when its sign-in has expired), but only
    a signed-in member of its own team is recorded."""
    device = session.get(Device, device_id)
    if device is None:
        return Contact(None)
    ours = actor is not None and uses_tablets(actor) and actor.team_id == device.team_id
    if ours:
        _note_contact(device, actor, report, now)
    refusal = _refusal(device)
    if refusal is None and actor is not None and uses_tablets(actor) and not ours:
        refusal = _other_team()
    return Contact(device.state, refusal, ours)


def synced(session: Session, device_id: str, now: dt.datetime) -> None:
    """A sync request of this tablet was served."""
    session.execute(update(Device).where(Device.id == device_id).values(last_sync_at=now))


def give_order(session: Session, actor: Actor, device_id: str, order: str, reason: str | None,
               now: dt.datetime) -> Device:
    """Center staff retire a tablet or report it lost; logged with the waiting changes it last reported."""
    device = require_device_manager(actor, session.get(Device, device_id, with_for_update=True))
    try:
        new_state = rules.after_order(device.state, order)
    except rules.StateError as err:
        raise DeviceState(str(err), {"state": [device.state]}, zh=err.zh) from None
    device.state = new_state
    device.state_changed_at = now
    device.state_changed_by = actor.user_id
    device.pending_at_order = device.pending_changes
    audit.record(session, actor, f"device_{order}", "device", device_id, detail={
        "team_id": device.team_id, "pending_changes": device.pending_changes,
        "pending_reported_at": _iso(device.pending_reported_at), "last_contact_at": _iso(device.last_contact_at),
        "reason": reason})
    return device


def confirm_wiped(session: Session, actor: Actor, device_id: str, now: dt.datetime) -> Device:
    """The tablet, told to wipe (retire or lost), says it did; a second confirmation changes nothing."""
    team_id = require_team_member(actor, "Only a member of the device's team confirms its wipe.")
    device = session.get(Device, device_id, with_for_update=True)
    if device is None or device.team_id != team_id:
        require_device(actor, None)  # not found, as any device out of scope
    try:
        new_state = rules.after_wipe(device.state)
    except rules.StateError as err:
        raise DeviceState(str(err), {"state": [device.state]}, zh=err.zh) from None
    if device.state != new_state:
        audit.record(session, actor, "device_wiped", "device", device_id, detail={
            "team_id": device.team_id, "ordered": device.state, "pending_changes": device.pending_changes})
        device.state = new_state
        device.wiped_at = now
        device.last_contact_at = now
        device.last_user_id = actor.user_id
    return device


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


# --- reading the registry -----------------------------------------------------------------------------

def _rows():
    enrolled_by, last_user, changed_by = aliased(User), aliased(User), aliased(User)
    return (select(Device.id, Device.team_id, Team.name.label("team_name"), Device.center_id, Device.state,
                   Device.model, Device.app_version, Device.store_version, Device.enrolled_at,
                   enrolled_by.full_name.label("enrolled_by"), last_user.full_name.label("last_user"),
                   Device.last_contact_at, Device.last_sync_at, Device.pending_changes,
                   Device.pending_reported_at, Device.state_changed_at, changed_by.full_name.label("state_changed_by"),
                   Device.pending_at_order, Device.wiped_at)
            .join(Team, Team.id == Device.team_id)
            .join(enrolled_by, enrolled_by.id == Device.enrolled_by)
            .outerjoin(last_user, last_user.id == Device.last_user_id)
            .outerjoin(changed_by, changed_by.id == Device.state_changed_by))


def list_devices(actor: Actor, args: dict):
    """The registry rows the actor may see, by team, most recently seen first."""
    stmt = _rows().where(devices_visible(actor, Device.team_id, Device.center_id))
    if args.get("team_id") is not None:
        stmt = stmt.where(Device.team_id == args["team_id"])
    if args.get("state"):
        stmt = stmt.where(Device.state == args["state"])
    return stmt.order_by(Team.name, Device.last_contact_at.desc().nulls_last(), Device.id)


def get_device(session: Session, actor: Actor, device_id: str):
    """One registry row, if the actor may see it."""
    require_device(actor, session.get(Device, device_id))
    return session.execute(_rows().where(Device.id == device_id)).mappings().one()
