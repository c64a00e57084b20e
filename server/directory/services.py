"""The specialists' directory: admin writes departments and entries; every signed-in user reads them."""
from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..auth.models import User
from ..errors import Conflict, NotFound, field_error
from ..org.models import Hospital
from ..scope import addressable_specialist, specialist_accounts
from .models import HALF_DAYS, TITLES, WEEKDAYS, Department, SpecialistEntry


def departments(args: dict):
    """A select of departments, by hospital and by a fragment of the name or specialty."""
    stmt = select(Department).order_by(Department.hospital_id, Department.name)
    if args.get("hospital_id") is not None:
        stmt = stmt.where(Department.hospital_id == args["hospital_id"])
    if args.get("specialty"):
        text = args["specialty"]
        stmt = stmt.where(or_(Department.specialty.contains(text, autoescape=True),
                              Department.name.contains(text, autoescape=True)))
    return stmt


def create_department(session: Session, data: dict) -> Department:
    """A new department (pool) of a hospital."""
    if session.get(Hospital, data["hospital_id"]) is None:
        raise field_error("hospital_id", "no such hospital")
    if session.scalar(select(Department.id).where(Department.hospital_id == data["hospital_id"],
                                                  Department.name == data["name"])):
        raise Conflict("This hospital already has a department of that name.", {"name": ["taken"]})
    department = Department(**data)
    session.add(department)
    return department


def department_of(session: Session, hospital_id: int, name: str | None) -> Department | None:
    """The department row of a pool, if the directory has it."""
    if not name:
        return None
    return session.scalar(select(Department).where(Department.hospital_id == hospital_id, Department.name == name))


def specialists(args: dict):
    """A select of (User, SpecialistEntry, Department) for active specialists with an entry, by specialty,
    hospital, department or e-consultation."""
    stmt = (select(User, SpecialistEntry, Department)
            .join(SpecialistEntry, SpecialistEntry.user_id == User.id)
            .outerjoin(Department, (Department.hospital_id == User.hospital_id)
                       & (Department.name == User.department))
            .where(specialist_accounts(User.role), User.is_active.is_(True))
            .order_by(User.hospital_id, User.department, User.full_name, User.id))
    if args.get("specialty"):
        text = args["specialty"]
        stmt = stmt.where(or_(SpecialistEntry.specialty.contains(text, autoescape=True),
                              User.department.contains(text, autoescape=True),
                              Department.specialty.contains(text, autoescape=True)))
    if args.get("hospital_id") is not None:
        stmt = stmt.where(User.hospital_id == args["hospital_id"])
    if args.get("department"):
        stmt = stmt.where(User.department == args["department"])
    if args.get("takes_econsult") is not None:
        stmt = stmt.where(SpecialistEntry.takes_econsult.is_(args["takes_econsult"]))
    return stmt


def put_entry(session: Session, user_id: int, data: dict) -> SpecialistEntry:
    """Write a specialist's directory entry (created on first write); their department must be listed."""
    user = session.get(User, user_id)
    if user is None or not addressable_specialist(user):
        raise NotFound("No such specialist.")
    if department_of(session, user.hospital_id, user.department) is None:
        raise field_error("department", f"add the department {user.department!r} of this hospital first")
    if data["title"] not in TITLES:
        raise field_error("title", "one of " + ", ".join(TITLES))
    sessions = data.get("clinic_sessions", [])
    seen = set()
    for i, slot in enumerate(sessions):
        key = (slot["weekday"], slot["half_day"])
        if slot["weekday"] not in WEEKDAYS or slot["half_day"] not in HALF_DAYS or key in seen:
            raise field_error(f"clinic_sessions.{i}", "weekday 1-7 and half_day am/pm, each once")
        seen.add(key)
    entry = session.get(SpecialistEntry, user_id) or SpecialistEntry(user_id=user_id)
    entry.specialty, entry.title = data["specialty"], data["title"]
    entry.clinic_sessions = [{"weekday": w, "half_day": h} for w, h in sorted(seen)]
    entry.takes_econsult = data.get("takes_econsult", True)
    entry.phone_for_teams = data.get("phone_for_teams")
    session.add(entry)
    return entry


def entry_row(user: User, entry: SpecialistEntry, department: Department | None) -> dict:
    """A directory row as the API shows it."""
    return {"user_id": user.id, "full_name": user.full_name, "hospital_id": user.hospital_id,
            "department": user.department, "department_specialty": department.specialty if department else None,
            "specialty": entry.specialty, "title": entry.title, "title_label": TITLES.get(entry.title),
            "clinic_sessions": entry.clinic_sessions, "takes_econsult": entry.takes_econsult,
            "phone_for_teams": entry.phone_for_teams}
