"""Walking-route order (gpcore.route): building, unit and door numbers compare as numbers."""
import pytest

from gpcore.followup.worklist import order_key
from gpcore.route import natural_key, route_key


@pytest.mark.parametrize("first, second", [
    ("浦东南路100弄潍坊新村2号101室", "浦东南路100弄潍坊新村10号101室"),   # building 2 before 10
    ("浦东南路100弄潍坊新村2号201室", "浦东南路100弄潍坊新村2号1001室"),   # door 201 before 1001
    ("浦东南路9弄潍坊新村12号101室", "浦东南路12弄潍坊新村1号101室"),      # lane 9 before lane 12
    ("崂山路2号", "崂山路2号1单元"),                                        # the shorter address first
    ("崂山路3号2单元", "崂山路3号11单元"),                                  # unit 2 before 11
    ("崂山路２号", "崂山路１０号"),                                          # full-width digits are numbers
    ("崂山路02号", "崂山路2号"),                                            # same value: the text breaks the tie
    ("东方路1号", "崂山路1号"),                                              # text parts as text
    ("", "崂山路1号"),                                                       # an empty address first
])
def test_addresses_in_walking_order(first, second):
    assert route_key(1, first) < route_key(1, second)
    assert sorted([second, first], key=lambda a: route_key(1, a)) == [first, second]


@pytest.mark.parametrize("first, second", [
    (("C2", "崂山路10号"), ("C10", "崂山路1号")),   # committee first, and C2 before C10
    ((2, "崂山路10号"), (10, "崂山路1号")),         # the tablet's committee ids
    ((None, "崂山路1号"), (1, "崂山路1号")),
])
def test_committee_before_address(first, second):
    assert route_key(*first) < route_key(*second)


def test_keys_compare_text_with_text_and_numbers_with_numbers():
    assert natural_key("10号") == ("", 10, "号")
    assert natural_key("崂山路") == ("崂山路",)
    assert natural_key(None) == ("",)
    # Never a TypeError, whatever the mix of digits and text.
    sorted(["1", "a", "a1", "1a", "", "a1b2", "2b"], key=natural_key)


def test_worklist_order_is_urgency_then_route_then_name():
    items = [(1, "C1", "路2号", "乙", "t2dm"), (0, "C9", "路10号", "甲", "hypertension"),
             (1, "C1", "路10号", "丙", "hypertension"), (1, "C1", "路2号", "乙", "hypertension")]
    assert sorted(items, key=lambda i: order_key(*i)) == [
        (0, "C9", "路10号", "甲", "hypertension"), (1, "C1", "路2号", "乙", "hypertension"),
        (1, "C1", "路2号", "乙", "t2dm"), (1, "C1", "路10号", "丙", "hypertension")]
