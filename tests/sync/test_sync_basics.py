"""Pull and push end to end: the real client engine against the real app (Flask test client)."""
import uuid

import pytest


def test_first_sync_holds_exactly_the_team_scope(world, tablet, session, server_scope, tablet_scope):
    store, engine = tablet("gp-a1")
    result = engine.sync()
    assert result.synced and result.pulled > 0
    team = world.teams["A1"]
    assert tablet_scope(store) == server_scope(session, team)
    assert set(tablet_scope(store)["households"]) == {world.households["A1-0"], world.households["A1-1"]}
    # A second sync brings nothing new.
    again = engine.sync()
    assert again.pulled == 0 and again.synced


def test_small_pages_resume_and_cover_everything(world, tablet, session, server_scope, tablet_scope):
    store, engine = tablet("gp-a1", page_limit=1)
    events = []
    engine.progress = events.append
    engine.sync()
    assert tablet_scope(store) == server_scope(session, world.teams["A1"])
    pulls = [e for e in events if e.phase == "pull"]
    assert len(pulls) >= 6 and all(e.done <= e.total for e in pulls)


def test_server_edits_and_reassignment_reach_the_tablets(world, tablet, as_user, session, server_scope,
                                                         tablet_scope):
    a1, e1 = tablet("gp-a1")
    a2, e2 = tablet("gp-a2")
    e1.sync(), e2.sync()
    rid = world.residents["A1-0-0"]
    r = as_user("staff-a").patch(f"/api/v1/residents/{rid}", json={"phone": "13911112222"},
                                 headers={"If-Match": "*"})
    assert r.status_code == 200
    hid = world.households["A1-1"]
    r = as_user("staff-a").post("/api/v1/assignments/", json={"household_ids": [hid], "team_id": world.teams["A2"],
                                                              "reason": "rebalance"})
    assert r.status_code in (200, 201), r.get_json()
    e1.sync(), e2.sync()
    assert a1.resident(rid)["phone"] == "13911112222"
    assert hid not in tablet_scope(a1)["households"]
    assert not any(r["household_id"] == hid for r in tablet_scope(a1)["residents"].values())
    assert a2.household(hid)["members"]
    for store, team in ((a1, "A1"), (a2, "A2")):
        assert tablet_scope(store) == server_scope(session, world.teams[team])


def test_push_applies_edits_and_creates_with_client_ids(world, tablet, session, server_scope, tablet_scope):
    store, engine = tablet("gp-a1")
    engine.sync()
    rid = world.residents["A1-0-1"]
    store.save_resident_edit(rid, {"phone": "13700001111", "name": "李思思"})
    hid = store.create_household({"committee_id": world.committees["A1"], "address": "新村1号"})
    new_rid = store.create_resident(hid, {"name": "王小明", "sex": "1", "birth_date": "1980-02-03",
                                          "relation_to_head": "02"})
    cid = store.add_condition(new_rid, "hypertension", "2020-01-01")
    assert not store.is_synced()
    result = engine.sync()
    assert result.synced and result.pushed == {"applied": 4}
    from server.households.models import ChronicCondition, Household, Resident
    assert session.get(Household, hid).team_id == world.teams["A1"]
    res = session.get(Resident, new_rid)
    assert res.record_number and len(res.record_number) == 17 and res.name_initials == "wxm"
    assert session.get(ChronicCondition, cid).resident_id == new_rid
    assert session.get(Resident, rid).name == "李思思"
    assert store.resident(new_rid)["record_number"] == res.record_number  # the server's answer came back
    assert tablet_scope(store) == server_scope(session, world.teams["A1"])


def test_same_field_conflict_keeps_the_first_and_logs_the_loser(world, tablet, as_user, session):
    s1, e1 = tablet("gp-a1")
    s2, e2 = tablet("nurse-a1")
    e1.sync(), e2.sync()
    rid = world.residents["A1-0-0"]
    s1.save_resident_edit(rid, {"phone": "111", "employer": "甲厂"})
    s2.save_resident_edit(rid, {"phone": "222", "contact_name": "老王"})
    assert e1.sync().pushed == {"applied": 1}
    r2 = e2.sync()
    assert r2.pushed == {"conflict": 1} and r2.synced
    e1.sync()
    for s in (s1, s2):
        res = s.resident(rid)
        assert (res["phone"], res["employer"], res["contact_name"]) == ("111", "甲厂", "老王")
    log = as_user("gp-a1").get("/api/v1/sync/conflicts").get_json()
    assert log["total"] == 1
    [c] = log["items"]
    assert (c["field"], c["kept_value"], c["losing_value"], c["base_value"]) == ("phone", "111", "222", "13800000000")
    assert as_user("gp-a2").get("/api/v1/sync/conflicts").get_json()["total"] == 0
    assert as_user("staff-a").get("/api/v1/sync/conflicts").get_json()["total"] == 1
    assert as_user("staff-b").get("/api/v1/sync/conflicts").get_json()["total"] == 0


def test_rejected_records_need_attention_with_the_api_reason(world, tablet, session):
    store, engine = tablet("gp-a1")
    engine.sync()
    rid = world.residents["A1-0-0"]
    store.save_resident_edit(rid, {"birth_date": "2999-01-01"})
    store.save_resident_edit(rid, {"sex": "x"})
    result = engine.sync()
    assert result.synced and result.pushed == {"rejected": 2} and result.needs_attention == 2
    items = store.needs_attention()
    assert "birth_date" in items[0]["reason"]["errors"] and "sex" in items[1]["reason"]["errors"]
    # In Chinese (the tablet sends Accept-Language: zh-CN): the GP reads these on the sync screen.
    assert items[0]["reason"]["message"] == "居民健康档案填写有误。"
    assert items[0]["reason"]["errors"]["birth_date"][0] == "出生日期晚于今天"
    assert items[1]["reason"] == {"code": 422, "message": "记录中有填写不对的项目。",
                                  "errors": {"sex": ["须是以下之一：0, 1, 2, 9。"]}}
    assert store.resident(rid)["birth_date"] != "2999-01-01"
    store.fix_rejected(items[1]["change_id"], {"sex": "1", "phone": "13600000000"})
    store.discard_rejected(items[0]["change_id"])
    assert engine.sync().pushed == {"applied": 1}
    assert store.needs_attention() == [] and store.resident(rid)["phone"] == "13600000000"


def test_an_edit_to_a_household_moved_away_is_refused_not_resurrected(world, tablet, as_user, session,
                                                                       tablet_scope):
    store, engine = tablet("gp-a1")
    engine.sync()
    hid = world.households["A1-1"]
    store.save_household_edit(hid, {"phone": "88888888"})
    as_user("staff-a").post("/api/v1/assignments/", json={"household_ids": [hid], "team_id": world.teams["A2"],
                                                          "reason": "moved"})
    result = engine.sync()
    assert result.pushed == {"rejected": 1} and result.synced
    [item] = store.needs_attention()
    assert "scope" in item["reason"]["errors"]
    assert item["reason"]["errors"]["scope"] == ["本团队的档案中没有（可能还没上传，或已调到其他团队、已删除）"]
    assert item["reason"]["message"].startswith("服务器上找不到这条记录涉及的档案：")
    assert hid not in tablet_scope(store)["households"]
    from server.households.models import Household
    assert session.get(Household, hid).phone is None


def test_a_refused_record_is_explained_in_english_unless_chinese_is_asked_for(world, client, token):
    headers = {"Authorization": f"Bearer {token('gp-a1')}"}

    def push(records, **extra):
        body = {"batch_id": str(uuid.uuid4()), "device_id": "t1", "records": records}
        answer = client.post("/api/v1/sync/push", json=body, headers={**headers, **extra}).get_json()
        [res] = answer["results"]
        assert res["status"] == "rejected"
        return res["reason"]

    def record(**fields):
        return [{"change_id": str(uuid.uuid4()), "entity": "residents", "op": "update", "base": {},
                 "entity_id": world.residents["A1-0-0"], "fields": fields, "device_time": None}]

    assert push(record(sex="x")) == {"code": 422, "message": "The record has invalid fields.",
                                     "errors": {"sex": ["Must be one of: 0, 1, 2, 9."]}}
    chinese = {"Accept-Language": "zh-CN,zh;q=0.9"}
    assert push(record(sex="x"), **chinese)["message"] == "记录中有填写不对的项目。"
    assert push(record(birth_date="2999-01-01"))["errors"]["birth_date"][0] == "birth date is in the future"

    def update_of_a_visit():  # append-only: refused before any handler runs
        return [{"change_id": str(uuid.uuid4()), "entity": "followups", "entity_id": str(uuid.uuid4()),
                 "op": "update", "fields": {}, "device_time": "2026-01-01T08:00:00+08:00"}]
    assert push(update_of_a_visit(), **chinese)["message"] == "平板不能提交这类记录或这种改动。"
    def visit(**fields):
        return [{"change_id": str(uuid.uuid4()), "entity": "followups", "entity_id": str(uuid.uuid4()),
                 "op": "create", "fields": fields, "device_time": None}]
    unregistered = push(visit(resident_id=world.residents["A1-0-0"], condition="hypertension",
                              form={"visit_date": "2026-01-01"}), **chinese)
    assert unregistered == {"code": 422, "message": "这位居民还没有登记为高血压管理对象，请先登记。",
                            "errors": {"condition": ["未登记高血压管理"]}}
    assert push(visit(resident_id="r", condition="t2dm"), **chinese)["errors"] == {"form": ["随访记录缺少随访表。"]}
    english = "This record type or operation is not accepted from tablets."
    assert push(update_of_a_visit())["message"] == english


def test_the_same_batch_twice_gets_the_same_answer_and_changes_nothing(world, client, token, session):
    headers = {"Authorization": f"Bearer {token('gp-a1')}"}
    rid = world.residents["A1-0-0"]
    body = {"batch_id": str(uuid.uuid4()), "device_id": "t1", "records": [
        {"change_id": str(uuid.uuid4()), "entity": "residents", "entity_id": rid, "op": "update",
         "base": {"phone": "13800000000"}, "fields": {"phone": "555"}, "device_time": "2026-01-01T08:00:00+08:00"}]}
    first = client.post("/api/v1/sync/push", json=body, headers=headers)
    second = client.post("/api/v1/sync/push", json=body, headers=headers)
    assert first.status_code == second.status_code == 200
    assert first.get_json() == second.get_json()
    assert first.get_json()["results"][0]["status"] == "applied"
    # The same record in a new batch is a duplicate, answered with its first answer.
    third = client.post("/api/v1/sync/push", json={**body, "batch_id": str(uuid.uuid4())}, headers=headers)
    [res] = third.get_json()["results"]
    assert res["status"] == "duplicate" and res["original"]["status"] == "applied"
    from server.sync.models import SyncReceipt
    from sqlalchemy import func, select
    assert session.scalar(select(func.count()).select_from(SyncReceipt)) == 1
    receipt = session.scalars(select(SyncReceipt)).one()
    assert receipt.device_time.hour == 0 and receipt.received_at is not None  # 08:00+08:00 kept as UTC


def test_pull_is_gzipped_when_accepted_and_compact(world, client, token):
    headers = {"Authorization": f"Bearer {token('gp-a1')}"}
    plain = client.get("/api/v1/sync/pull", headers=headers)
    zipped = client.get("/api/v1/sync/pull", headers={**headers, "Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in plain.headers
    assert zipped.headers["Content-Encoding"] == "gzip" and len(zipped.get_data()) < len(plain.get_data())
    page = plain.get_json()
    assert page["mode"] == "snapshot" and page["entities"]["residents"]["columns"][0] == "id"
    assert isinstance(page["entities"]["residents"]["rows"][0], list)


def test_a_server_behind_the_tablet_cursor_says_reset(world, tablet):
    store, engine = tablet("gp-a1")
    engine.sync()
    with store.transaction():
        store.set_state("cursor", "c.0.999999")
    result = engine.sync()
    assert result.epoch_changed and result.synced


def test_a_new_epoch_makes_tablets_resend_what_was_acknowledged(world, tablet, clean_app, session):
    from server.sync.services import new_epoch
    store, engine = tablet("gp-a1")
    engine.sync()
    rid = world.residents["A1-1-0"]
    store.save_resident_edit(rid, {"employer": "乙厂"})
    engine.sync()
    with clean_app.extensions["db_engine"].begin() as conn:
        new_epoch(conn)
    result = engine.sync()
    assert result.epoch_changed and result.synced
    assert result.pushed.get("applied", 0) + result.pushed.get("duplicate", 0) >= 1


def test_only_gps_pull_and_push(world, as_user):
    for user in ("admin", "staff-a", "spec"):
        assert as_user(user).get("/api/v1/sync/pull").status_code == 403
        assert as_user(user).post("/api/v1/sync/push", json={"batch_id": str(uuid.uuid4()), "device_id": "x",
                                                              "records": []}).status_code == 403


class _AheadTransport:
    """A FlaskTransport that, like HttpTransport, can make a request on another thread (`detached`);
    every `fail_every`-th request made ahead is lost, as on a poor connection."""

    def __init__(self, inner, fail_every=0, deferred=False):
        self.inner, self.fail_every, self.deferred = inner, fail_every, deferred
        self.ahead_calls = self.ahead_lost = self.pulls_here = 0

    def call(self, method, path, **kw):
        self.pulls_here += path.endswith("/pull")
        return self.inner.call(method, path, **kw)

    def detached(self):
        outer = self

        class Detached:
            deferred_answers = outer.deferred  # as HttpTransport: answers read, decoded when used

            def call(self, method, path, *, params, deferred=False):
                from fieldapp.sync.transport import Answer, TransportError

                outer.ahead_calls += 1
                if outer.fail_every and outer.ahead_calls % outer.fail_every == 0:
                    outer.ahead_lost += 1
                    raise TransportError("connection reset (test)")
                if not deferred:
                    return outer.inner.call(method, path, params=params)
                inner = outer.inner
                r = inner.client.open(path, method=method, headers={"Authorization": f"Bearer {inner.token}",
                                                                   "Accept-Encoding": "gzip"},
                                      query_string={k: v for k, v in params.items() if v is not None})
                assert r.status_code == 200
                return Answer(r.get_data(), r.headers.get("Content-Encoding", ""), r.headers)

        return Detached()


@pytest.mark.parametrize("fail_every", [0, 3])
@pytest.mark.parametrize("deferred", [False, True])
def test_pages_fetched_ahead_cover_everything_once(world, tablet, session, server_scope, tablet_scope, fail_every,
                                                   deferred):
    """Pages are asked for ahead, in a chain, while earlier ones are written; a page lost on the way is asked for
    again. deferred: as over HTTP, each next request goes by the answer's X-Sync-Next-Cursor header, before
    the answer is decoded (without the header the chain would stop at every page and the engine ask itself)."""
    store, engine = tablet("gp-a1", page_limit=1)
    engine.transport = _AheadTransport(engine.transport, fail_every, deferred)
    result = engine.sync()
    assert result.synced and result.pages >= 6
    assert engine.transport.ahead_calls >= result.pages - 1
    assert engine.transport.ahead_lost == (engine.transport.ahead_calls // 3 if fail_every else 0)
    # Only the first page and the lost ones were asked for on the engine's own thread.
    assert engine.transport.pulls_here == 1 + engine.transport.ahead_lost
    assert tablet_scope(store) == server_scope(session, world.teams["A1"])
