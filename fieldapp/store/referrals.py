"""The store's referral half: a team's cases with their threads, the specialists' directory, and writing a
case or a thread message offline (queued in the outbox like every save; the server's state machine decides
what becomes of it). Mixed into Store (store.py), over the same connection and transactions.

    store.referrals(resident_id=None)   cases newest first, each with "resident_name", "pending" (not yet
                                        committed by the server), "needs_attention" (the server refused it)
    store.referral(id)                  a case with "messages" (the thread, oldest first, unsent ones last)
    store.refused_referrals(resident_id=None)   new cases the server refused (kept only in needs-attention)
    store.directory()                   {"hospitals", "departments", "specialists"} as the server last sent
    store.create_referral(resident_id, urgency=, kind=, form=, specialist_id= | hospital_id= + department=,
                          lab_report_ids=(), note=None)      -> the case's id
    store.post_referral_message(referral_id, text, author_name="")   -> the message's (tablet) id
    store.keep_referral_draft(resident_id, draft) / referral_draft(resident_id) / discard_referral_draft(...)
                                        the new case being written for a resident, kept until it is saved
"""
from __future__ import annotations

import json

from gpcore import referral as rules
from gpcore.clock import china_today

from .errors import InvalidRecord, NotFound
from .schema import DEPARTMENT_COLUMNS, ENTITIES, SPECIALIST_COLUMNS

_OPEN = "('pending', 'inflight')"
_DRAFT_KEY = "referral_draft:"


class ReferralStore:
    """Referral reads and saves; needs Store's _row, _create, _decode, transaction and clock."""

    # --- reading ----------------------------------------------------------------------------------

    def referrals(self, resident_id: str | None = None) -> list[dict]:
        """A resident's cases (or the team's), newest first, with whether they still wait to go up."""
        t = ENTITIES["referrals"]
        sql = (f"SELECT f.*, r.name AS resident_name, EXISTS (SELECT 1 FROM outbox o WHERE o.entity = 'referrals' "
               f"AND o.entity_id = f.id AND o.state IN {_OPEN}) AS pending, EXISTS (SELECT 1 FROM outbox o WHERE "
               "o.entity = 'referrals' AND o.entity_id = f.id AND o.state = 'rejected') AS refused "
               "FROM referrals f LEFT JOIN residents r ON r.id = f.resident_id")
        params: tuple = ()
        if resident_id:
            sql += " WHERE f.resident_id = ?"
            params = (resident_id,)
        out = []
        for r in self.db.execute(sql + " ORDER BY COALESCE(f.sent_on, '9999') DESC, f.created_at DESC, f.id",
                                 params):
            row = self._decode(t, r)
            row.update(resident_name=r["resident_name"], pending=bool(r["pending"]),
                       needs_attention=bool(r["refused"]))
            out.append(row)
        return out

    def refused_referrals(self, resident_id: str | None = None) -> list[dict]:
        """New cases the server refused (a resident's, or the team's), each its needs-attention item with the
        case's resident_id, urgency, sent_on (its form's referral_date) and no state. A refused case keeps
        no row here, but it still answers the rules' offer: it is fixed, not written a second time."""
        out = []
        for item in self.needs_attention():
            fields = item["fields"] or {}
            if item["entity"] == "referrals" and item["op"] == "create" \
                    and resident_id in (None, fields.get("resident_id")):
                out.append({**item, "resident_id": fields.get("resident_id"),
                            "urgency": fields.get("urgency"), "state": None,
                            "sent_on": (fields.get("form") or {}).get("referral_date")})
        return out

    def referral(self, referral_id: str) -> dict:
        """One case with its thread (server messages in order, then this tablet's unsent ones)."""
        row = self._row("referrals", referral_id)
        if row is None:
            raise NotFound(f"no referral {referral_id} on this tablet")
        pending = {r[0]: r[1] for r in self.db.execute(
            "SELECT entity_id, state FROM outbox WHERE entity IN ('referrals', 'referral_messages') "
            "AND state IN ('pending', 'inflight', 'rejected')")}
        row["pending"] = pending.get(referral_id) in ("pending", "inflight")
        row["needs_attention"] = pending.get(referral_id) == "rejected"
        t = ENTITIES["referral_messages"]
        messages = []
        # The server numbers its entries (digits only); this tablet's unsent ones keep a UUID (with hyphens)
        # and come last. Not author_id: the server's system entries (an escalation) have no author either.
        for r in self.db.execute("SELECT * FROM referral_messages WHERE referral_id = ? ORDER BY "
                                 "id GLOB '*[^0-9]*', CAST(id AS INTEGER), at", (referral_id,)):
            m = self._decode(t, r)
            m["pending"] = pending.get(m["id"]) in ("pending", "inflight")
            m["needs_attention"] = pending.get(m["id"]) == "rejected"
            messages.append(m)
        row["messages"] = messages
        return row

    def directory(self) -> dict:
        """Hospitals, departments (specialty pools) and specialists, as the last sync brought them."""
        hospitals = [dict(r) for r in self.db.execute("SELECT id, code, name FROM hospitals ORDER BY CAST(id AS INTEGER)")]
        departments = [dict(r) for r in self.db.execute(
            f"SELECT {', '.join(DEPARTMENT_COLUMNS)} FROM departments ORDER BY hospital_id, name")]
        specialists = []
        for r in self.db.execute(f"SELECT {', '.join(SPECIALIST_COLUMNS)} FROM specialists "
                                 "ORDER BY hospital_id, department, full_name"):
            row = dict(r)
            row["clinic_sessions"] = json.loads(row["clinic_sessions"] or "[]")
            row["takes_econsult"] = bool(row["takes_econsult"])
            specialists.append(row)
        return {"hospitals": hospitals, "departments": departments, "specialists": specialists}

    def _replace_directory(self, reference: dict) -> None:
        """Replace the directory with the server's lists (inside the page's transaction)."""
        self.db.execute("DELETE FROM departments")
        self.db.executemany(f"INSERT INTO departments ({', '.join(DEPARTMENT_COLUMNS)}) VALUES "
                            f"({', '.join('?' * len(DEPARTMENT_COLUMNS))})",
                            [tuple(str(v) if i == 0 else v for i, v in enumerate(d))
                             for d in reference.get("departments", ())])
        self.db.execute("DELETE FROM specialists")
        self.db.executemany(
            f"INSERT INTO specialists ({', '.join(SPECIALIST_COLUMNS)}) VALUES ({', '.join('?' * len(SPECIALIST_COLUMNS))})",
            [(str(s["user_id"]), *(json.dumps(s.get(c), ensure_ascii=False) if c == "clinic_sessions" else s.get(c)
                                   for c in SPECIALIST_COLUMNS[1:])) for s in reference.get("specialists", ())])

    # --- the case being written -------------------------------------------------------------------

    def keep_referral_draft(self, resident_id: str, draft: dict) -> None:
        """Keep the new case being written for a resident (its boxes' text, urgency, kind and addressee), as
        a visit's draft is kept: a lock, the app going to the background or a kill loses nothing typed. One
        a resident, on this tablet only (the encrypted store); dropped when the case is saved."""
        with self.transaction():
            self.set_state(_DRAFT_KEY + resident_id, {**draft, "kept_at": self.clock().isoformat()})

    def referral_draft(self, resident_id: str) -> dict | None:
        """The kept draft of a resident's new case (with "kept_at"), or None."""
        return self.state(_DRAFT_KEY + resident_id)

    def discard_referral_draft(self, resident_id: str) -> None:
        """Drop a resident's draft (joins the caller's transaction: saving the case drops it in the same
        commit)."""
        with self.transaction():
            self.db.execute("DELETE FROM sync_state WHERE key = ?", (_DRAFT_KEY + resident_id,))

    # --- saving -----------------------------------------------------------------------------------

    def create_referral(self, resident_id: str, *, urgency: str, kind: str, form: dict,
                        specialist_id: int | None = None, hospital_id: int | None = None,
                        department: str | None = None, lab_report_ids=(), note: str | None = None,
                        entity_id: str | None = None, replaces: str | None = None) -> str:
        """Write a case offline; returns its id. What the tablet can check is checked first (gpcore's form
        rules, urgency, kind, an addressee); InvalidRecord carries {field: [messages]} in Chinese. The
        server fills the identity and destination again and its state machine starts the case."""
        resident = self._row("residents", resident_id)
        if resident is None:
            raise NotFound(f"no resident {resident_id} on this tablet")
        errors: dict[str, list[str]] = {}
        # The destination, as the server fills it in from the addressee: the directory as last synced.
        if specialist_id is not None:
            spec = self.db.execute("SELECT full_name, hospital_id, department, takes_econsult FROM specialists "
                                   "WHERE user_id = ?", (str(specialist_id),)).fetchone()
            if spec is None:
                errors["specialist_id"] = ["专科目录中没有这位专科医生。"]
            else:
                hospital_id, department = spec["hospital_id"], spec["department"]
                form = {**form, "receiving_doctor": spec["full_name"]}
                if kind == "econsult" and not spec["takes_econsult"]:
                    errors["kind"] = ["这位专科医生不接受线上会诊，请转诊至门诊或发给科室。"]
        elif hospital_id is None or not department:
            errors["department"] = ["请选择专科医生，或医院和科室。"]
        elif self.db.execute("SELECT 1 FROM departments WHERE CAST(hospital_id AS TEXT) = ? AND name = ?",
                             (str(hospital_id), department)).fetchone() is None:
            errors["department"] = ["专科目录中没有这个科室。"]
        hospital = self.db.execute("SELECT name FROM hospitals WHERE id = ?", (str(hospital_id),)).fetchone()
        if hospital is not None:
            form = {**form, "to_institution": hospital[0], "to_department": department}
        problems = (rules.check_choice("urgency", urgency, rules.URGENCIES, "紧急程度")
                    + rules.check_choice("kind", kind, rules.KINDS, "转诊方式"))
        problems += rules.check_upward_form(form, today=china_today(self.clock()))
        found = rules.errors_by_field(problems, "zh")
        if hospital is None:  # the destination comes from the addressee: one reason, not three
            found.pop("to_institution", None), found.pop("to_department", None)
        errors = {**found, **errors}
        if errors:
            raise InvalidRecord(errors)
        fields = {"resident_id": resident_id, "urgency": urgency, "kind": kind, "form": form,
                  "lab_report_ids": list(lab_report_ids)}
        if specialist_id is not None:
            fields["specialist_id"] = int(specialist_id)
        else:
            fields.update(hospital_id=int(hospital_id), department=department)
        if note:
            fields["note"] = note
        with self.transaction():
            if replaces is None:  # a new case: the draft it was written in is spent
                self.discard_referral_draft(resident_id)
            return self._create("referrals", fields, entity_id, replaces)

    def _recreate_referral(self, merged: dict, fix: dict, entity_id: str, replaces: str) -> None:
        """A refused case written again with the fix's corrections (store.fix_rejected). The addressee is the
        fix's when it names one (a specialist; or a hospital and department, either taken from the refused
        case where the fix leaves it out), else the refused case's; the destination and receiving doctor on
        the form are filled again from it by create_referral."""
        if fix.get("specialist_id") is not None:
            address = {"specialist_id": fix["specialist_id"]}
        elif fix.get("department") is not None or fix.get("hospital_id") is not None:
            address = {"hospital_id": merged.get("hospital_id"), "department": merged.get("department")}
        elif merged.get("specialist_id") is not None:
            address = {"specialist_id": merged["specialist_id"]}
        else:
            address = {"hospital_id": merged.get("hospital_id"), "department": merged.get("department")}
        form = {k: v for k, v in (merged.get("form") or {}).items()
                if k not in ("receiving_doctor", "to_institution", "to_department")}
        self.create_referral(merged["resident_id"], urgency=merged.get("urgency"), kind=merged.get("kind"),
                             form=form, lab_report_ids=merged.get("lab_report_ids") or (),
                             note=merged.get("note"), entity_id=entity_id, replaces=replaces, **address)

    def post_referral_message(self, referral_id: str, text: str, author_name: str = "", *,
                              entity_id: str | None = None, replaces: str | None = None) -> str:
        """Write a thread message offline; returns its id on this tablet (the server numbers it)."""
        case = self._row("referrals", referral_id)
        if case is None:
            raise NotFound(f"no referral {referral_id} on this tablet")
        errors = rules.errors_by_field(rules.check_details(rules.MESSAGE, {"text": text}), "zh")
        if case.get("state") in rules.TERMINAL:
            errors["state"] = [f"转诊已{rules.STATE_LABELS[case['state']]}，不能再留言。"]
        if errors:
            raise InvalidRecord(errors)
        fields = {"referral_id": referral_id, "text": text.strip(), "author_name": author_name}
        return self._create("referral_messages", fields, entity_id, replaces)

    def team_actions(self, referral_id: str) -> list[str]:
        """What the team may do with the case now by the state machine (gpcore), offline: cancel, give_info,
        close; none while the case itself or an action on it waits to go up."""
        case = self._row("referrals", referral_id)
        if case is None or case.get("state") is None or self._waiting(referral_id):
            return []
        party = rules.Party(user_id=0, role="gp", team_id=case["team_id"])
        return [a for a in rules.allowed_actions(self._case(case), party) if a in ("cancel", "give_info", "close")]

    def act_on_referral(self, referral_id: str, action: str, details: dict, *, replaces: str | None = None) -> str:
        """Queue the team's action on a case (cancel with a reason, give_info with the information, close
        with the follow-up visit that closed the loop); returns the change id. The case keeps its state
        here: the server's state machine decides, on the version this tablet saw (a case the specialist
        moved meanwhile is refused with its current state)."""
        case = self._row("referrals", referral_id)
        if case is None:
            raise NotFound(f"no referral {referral_id} on this tablet")
        if action not in self.team_actions(referral_id):
            label = rules.STATE_LABELS.get(case.get("state"), "待上传")
            raise InvalidRecord({"action": [f"转诊当前状态为“{label}”，不能{rules.ACTION_LABELS.get(action, action)}。"]})
        shape = {"cancel": rules.REASON, "give_info": rules.INFO}.get(action)
        errors = rules.errors_by_field(rules.check_details(shape, details), "zh") if shape else {}
        if action == "close":
            visit = self._row("followups", details.get("followup_id") or "")
            if visit is None or visit["resident_id"] != case["resident_id"] or (
                    case.get("answered_on") and (visit.get("visit_date") or "") < case["answered_on"]):
                errors["followup_id"] = [f"结案须有专科答复（{case.get('answered_on') or ''}）之后的随访。"]
        if errors:
            raise InvalidRecord(errors)
        with self.transaction():
            return self._enqueue("referrals", referral_id, "update", {"version": case["version"]},
                                 {"action": action, **details}, replaces)

    def closing_visit(self, referral_id: str) -> str | None:
        """The resident's latest visit on or after the answer (what closes the loop), or None."""
        case = self._row("referrals", referral_id) or {}
        row = self.db.execute("SELECT id FROM followups WHERE resident_id = ? AND COALESCE(kind, 'visit') = 'visit' "
                              "AND visit_date >= ? ORDER BY visit_date DESC, id LIMIT 1",
                              (case.get("resident_id"), case.get("answered_on") or "")).fetchone()
        return row[0] if row else None

    def _waiting(self, referral_id: str) -> bool:
        return self.db.execute(f"SELECT 1 FROM outbox WHERE entity = 'referrals' AND entity_id = ? AND state IN "
                               f"{_OPEN} LIMIT 1", (referral_id,)).fetchone() is not None

    @staticmethod
    def _case(row: dict) -> rules.Case:
        return rules.Case(row["state"], row["team_id"], row["hospital_id"], row["department"], row.get("specialist_id"),
                          row.get("owner_id"), row.get("info_from"))

    def _local_referral_row(self, entity: str, entity_id: str, fields: dict) -> dict | None:
        """The row a case or message written here shows as until the server's version arrives (None for
        other entities)."""
        if entity == "referrals":
            resident = self._row("residents", fields["resident_id"]) or {}
            spec = None
            if fields.get("specialist_id") is not None:
                spec = self.db.execute("SELECT hospital_id, department FROM specialists WHERE user_id = ?",
                                       (str(fields["specialist_id"]),)).fetchone()
            return {"id": entity_id, "resident_id": fields["resident_id"], "team_id": resident.get("team_id"),
                    "center_id": resident.get("center_id"), "urgency": fields["urgency"], "kind": fields["kind"],
                    "hospital_id": spec["hospital_id"] if spec else fields.get("hospital_id"),
                    "department": spec["department"] if spec else fields.get("department"),
                    "specialist_id": fields.get("specialist_id"), "form": fields["form"],
                    "lab_report_ids": fields.get("lab_report_ids") or [],
                    "sent_on": fields["form"].get("referral_date"), "created_at": self.clock().isoformat(),
                    "version": 0}
        if entity == "referral_messages":
            return {"id": entity_id, "client_id": entity_id, "referral_id": fields["referral_id"],
                    "at": self.clock().isoformat(), "author_name": fields.get("author_name") or "",
                    "author_role": "gp", "kind": "message", "text": fields["text"]}
        return None
