"""How a refused record reads on the tablet, and which ones its author may fix (fieldapp/attention.py)."""
import pytest

from fieldapp.attention import fixable, label, reason_text


@pytest.mark.parametrize("reason, text", [
    (None, ""),
    ({"code": 422, "message": "随访表填写有误：随访日期。",
      "errors": {"form": {"visit_date": ["随访日期不能晚于今天（2026-12-02）。"]}}},
     "随访表填写有误：随访日期。（随访日期不能晚于今天（2026-12-02）。）"),  # the label not twice
    ({"code": 422, "message": "记录中有填写不对的项目。",
      "errors": {"sex": ["须是以下之一：0, 1, 2, 9。"], "birth_date": ["出生日期晚于今天", "与身份证号不符"]}},
     "记录中有填写不对的项目。（性别：须是以下之一：0, 1, 2, 9。；出生日期：出生日期晚于今天，与身份证号不符）"),
    ({"code": 422, "message": "x", "errors": {"form": {"medications": {"0": {"name": ["必填。"]}}}}},
     f"x（{label('medications')}：必填。）"),
    ({"code": 404, "message": "找不到", "errors": {"scope": ["不在本团队的家庭中"]}}, "找不到（范围：不在本团队的家庭中）"),
    ({"code": 409, "message": "冲突"}, "冲突"),
    ({"code": 422, "message": "x", "errors": {"unheard_of": ["?"]}}, "x（unheard_of：?）"),
    ({"code": 422, "message": "x", "errors": {"form": "not a mapping"}}, "x（随访表：not a mapping）"),
    ({"code": 422, "message": "居民已于 2026-01-02 死亡", "errors": {"form.visit_date": ["居民已于 2026-01-02 死亡"]}},
     "居民已于 2026-01-02 死亡"),  # a field's message the sentence already says, not twice
    ({"code": 422, "message": "x", "errors": {"sbp": []}}, "x"),
])
def test_reasons_read_by_box_label(reason, text):
    assert reason_text(reason) == text


def test_a_form_box_is_named_by_its_label():
    names = (label("sbp"), label("form.sbp"), label("medications.0.name"), label("nothing_known"))
    assert names == ("收缩压", "收缩压", "用药情况", "nothing_known")


VISIT = {"entity": "followups", "op": "create", "member_id": "7",
         "fields": {"resident_id": "r", "condition": "hypertension", "form": {"sbp": 150}},
         "reason": {"code": 422, "message": "x"}}


@pytest.mark.parametrize("change, member, ok", [
    ({}, "7", True),
    ({}, 7, True),  # the session's id may be a number
    ({"fields": {"amends_id": "v", "form": {"sbp": 150}, "reason": "抄错"}}, "7", True),
    ({}, "8", False),  # another member's visit: a fix would go up in the fixer's name
    ({}, None, False),
    ({"member_id": None}, "7", False),  # saved before members had ids on the tablet
    ({"reason": {"code": "device_other_team", "message": "moved"}}, "7", False),
    ({"fields": {"kind": "lost", "resident_id": "r", "condition": "hypertension", "date": "2026-01-01",
                 "reason": "搬走"}}, "7", False),
    ({"entity": "residents", "op": "update", "fields": {"phone": "1"}}, "7", False),
    ({"entity": "referral_messages", "fields": {"referral_id": "c", "text": "补充", "form": {}}}, "7", False),
    ({"entity": "referrals", "op": "update", "fields": {"action": "cancel", "reason": "x"}}, "7", False),
    # Refused for who may record it: no correction of the form changes that. A 404 is fixable where the
    # resident is still on the tablet (the store check below): the server did not have its target yet.
    ({"reason": {"code": 403, "message": "无权提交这条记录"}}, "7", False),
    ({"reason": {"code": 404, "message": "找不到", "errors": {"scope": ["不在本团队的家庭中"]}}}, "7", True),
])
def test_only_the_author_fixes_a_refused_visit(change, member, ok):
    assert fixable({**VISIT, **change}, member) is ok


class _Tablet:
    """store.record as fixable reads it: which rows this tablet still has."""

    def __init__(self, *rows):
        self.rows = set(rows)

    def record(self, entity, entity_id):
        return {"id": entity_id} if (entity, entity_id) in self.rows else None


def test_a_visit_whose_resident_left_the_tablet_is_not_offered_to_fix():
    amendment = {**VISIT, "fields": {"amends_id": "v", "form": {"sbp": 150}, "reason": "抄错"}}
    assert fixable(VISIT, "7", _Tablet(("residents", "r"))) is True
    assert fixable(VISIT, "7", _Tablet()) is False  # a pull took the resident away
    assert fixable(amendment, "7", _Tablet(("followups", "v"))) is True
    assert fixable(amendment, "7", _Tablet(("residents", "r"))) is False  # the amended visit is gone


CASE = {"entity": "referrals", "op": "create", "member_id": "7",
        "fields": {"resident_id": "r", "urgency": "urgent", "kind": "econsult", "specialist_id": 5,
                   "form": {"initial_impression": "高血压3级"}},
        "reason": {"code": 422, "message": "记录中有填写不对的项目。",
                   "errors": {"kind": ["这位专科医生不接受线上会诊，请转诊至门诊或发给科室。"]}}}


@pytest.mark.parametrize("change, member, rows, ok", [
    ({}, "7", (("residents", "r"),), True),  # most often its addressee: re-addressed on the referral form
    ({}, "8", (("residents", "r"),), False),  # another member's case: it carries its doctor's name and phone
    ({"reason": {"code": 403, "message": "无权"}}, "7", (("residents", "r"),), False),
    ({}, "7", (), False),  # the resident left the tablet (a household moved to another team)
    # No correction helps: the resident moved out or died; the server has this id already.
    ({"reason": {"code": 422, "message": "x", "errors": {"resident_id": ["该居民档案已迁出或死亡"]}}}, "7",
     (("residents", "r"),), False),
    ({"reason": {"code": 409, "message": "x", "errors": {"entity_id": ["已存在"]}}}, "7",
     (("residents", "r"),), False),
])
def test_only_the_author_fixes_a_refused_referral_while_its_resident_is_here(change, member, rows, ok):
    assert fixable({**CASE, **change}, member, _Tablet(*rows)) is ok


def test_a_referrals_fields_read_by_the_referral_forms_labels():
    reason = {"message": "记录中有填写不对的项目。", "errors": {"form": {"phone": ["格式不对"]}, "kind": ["须是以下之一"]}}
    assert reason_text(reason, "referrals") == "记录中有填写不对的项目。（联系电话：格式不对；转诊方式：须是以下之一）"
    # The same names on a health file's edit are its own fields.
    assert reason_text({"message": "x", "errors": {"phone": ["格式不对"]}}, "residents") == "x（电话：格式不对）"
