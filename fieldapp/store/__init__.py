"""The tablet's local store (plain Python + stdlib sqlite3; no Kivy), the API the screens use.

One SQLite file per tablet holds the team's households, residents, registry entries, follow-up records and
lab reports with their result rows as the server last sent them with local edits laid over, an outbox of every save, and the sync state. Saving always succeeds
offline: it writes the local row and queues a record with a client UUID in the same transaction. The file
upgrades itself forward (PRAGMA user_version, fieldapp/store/schema.py); an older app refuses a newer file.

    from fieldapp.store import Store
    store = Store("/data/gpo.sqlite")                   # opens or creates, upgrades the schema
    store = Store("/data/gpo.sqlite", key=K)            # the same, encrypted at rest (SQLCipher 4, raw 32-byte
                                                        # key; fieldapp/keys.py keeps K wrapped); StoreLocked
                                                        # if K does not open it; encrypt_file(path, K) turns
                                                        # a plain store into an encrypted one, every row kept

Reading (values as the server sends them: dates ISO strings, code lists as Python lists):
    store.search_residents(q, limit=50)     name fragment, pinyin initials or full pinyin ("zs", "zhangsan"),
                                            ID-number prefix, record-number tail, phone; [] when none
    store.search_households(q, limit=50)    address fragment or a member's name / initials / ID
    store.household(id)                     the household with "members" (each a resident file)
    store.resident(id)                      the resident's file, "conditions", "address", "pending" edits
    store.conditions(resident_id)           registry entries (hypertension / t2dm)
    store.visits(resident_id, condition=None, include_superseded=False)
                                            follow-up records newest first, the effective version of each
                                            (an amended record gives way to its amendment); "pending" while
                                            the server has not signed it, "amended_by"
    store.visit(id)                         one follow-up record (form as a dict, the server's decisions); the
                                            file keeps forms without their empty boxes (gpcore.followup.compact)
                                            and every read puts them back: readers see the form as signed
    store.lab_reports(resident_id)          lab reports, critical first, then newest, each with
                                            "hospital_name" (the server's hospital list, kept by sync)
    store.lab_report(id)                    a report with "results" (current rows, critical first) and
                                            "history" (rows a correction superseded)
    store.outbox_count()                    records saved but not yet committed by the server
    store.needs_attention()                 records the server refused: [{change_id, entity, entity_id, op,
                                            fields, reason, device_time}]; reason is the server's error
                                            {"message", "errors": {field: [messages]}}
    store.is_synced()                       True only when the outbox is empty
    store.status()                          outbox, needs_attention, synced, last_synced_at, counts

Saving (each returns the change id or the new record's id; raises NotFound for an unknown record):
    store.save_resident_edit(resident_id, {"phone": "139..."})
    store.save_household_edit(household_id, {"water": "tap"})
    store.save_condition_edit(condition_id, {"status": "lost", "status_date": "2026-03-01",
                                             "status_reason": "..."})
    store.create_household({"committee_id": 3, "address": "..."})          -> household id (UUID)
    store.create_resident(household_id, {"name": "...", "sex": "1", "birth_date": "1960-01-02", ...})
    store.add_condition(resident_id, "hypertension", diagnosed_on="2020-05-01")
    store.save_visit(resident_id, "hypertension", form)   -> visit id; the form (gpcore.followup's national
                                            template as a dict) is checked with gpcore's parse_* first and
                                            InvalidRecord(errors={field: [messages]}) is raised before
                                            anything is saved; the server re-runs the rules when it signs it
    store.amend_visit(visit_id, form, reason)  -> the amendment's id; a signed record is never edited
    store.record_lost(resident_id, "t2dm", "2026-03-01", reason)   -> the entry's id (lost to follow-up;
                                            the server marks the registry entry lost)
    store.record_death(resident_id, "hypertension", "2026-03-01", cause)  -> the entry's id (the server
                                            marks the resident deceased); both checked here first
                                            (InvalidRecord) and signed by the server like a visit
    store.fix_rejected(change_id, {field: corrected value})   -> new change id (the old one is 'fixed')
    store.discard_rejected(change_id)       a person decided not to send it (kept, marked 'discarded')

Threads: open one Store per thread (the sync worker its own); SQLite WAL lets the screens read while the
worker writes a page. The sync engine (fieldapp/sync) drives the take_batch / apply_push_answer /
apply_page / start_snapshot half of this class.
"""
from .schema import ENTITIES, EntityTable
from .store import InvalidRecord, NotFound, Store, StoreError, StoreLocked, encrypt_file, is_plain_sqlite

__all__ = ["Store", "StoreError", "StoreLocked", "NotFound", "InvalidRecord", "ENTITIES", "EntityTable",
           "encrypt_file", "is_plain_sqlite"]
