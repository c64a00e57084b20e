"""The tablet's states in the registry (gpcore.devices): orders, wipe confirmation, what each state allows."""
import pytest

from gpcore import devices as d

ORDERS = [  # (state, order, new state or None if refused)
    (d.ACTIVE, "retire", d.RETIRE), (d.ACTIVE, "lost", d.LOST),
    (d.RETIRE, "lost", d.LOST), (d.RETIRE, "retire", None),
    (d.LOST, "retire", None), (d.LOST, "lost", None),
    (d.WIPED, "retire", None), (d.WIPED, "lost", None),
]


@pytest.mark.parametrize("state,order,to", ORDERS)
def test_orders(state, order, to):
    if to is None:
        with pytest.raises(d.StateError) as err:
            d.after_order(state, order)
        assert err.value.state == state and err.value.zh.endswith("。")
    else:
        assert d.after_order(state, order) == to


def test_an_unknown_order_is_a_programming_error():
    with pytest.raises(ValueError):
        d.after_order(d.ACTIVE, "steal")


@pytest.mark.parametrize("state,to", [(d.RETIRE, d.WIPED), (d.LOST, d.WIPED), (d.WIPED, d.WIPED), (d.ACTIVE, None)])
def test_wipe_confirmation(state, to):
    if to is None:
        with pytest.raises(d.StateError):
            d.after_wipe(state)
    else:
        assert d.after_wipe(state) == to


@pytest.mark.parametrize("state,keys,sync,wipe", [
    (d.ACTIVE, True, True, False), (d.RETIRE, False, True, True),
    (d.LOST, False, False, True), (d.WIPED, False, False, False)])
def test_what_each_state_allows(state, keys, sync, wipe):
    assert (d.receives_keys(state), d.may_sync(state), d.must_wipe(state)) == (keys, sync, wipe)


@pytest.mark.parametrize("state,kept,reported,shown", [
    (d.ACTIVE, 7, 0, 0), (d.RETIRE, 7, 2, 2), (d.LOST, 7, 0, 7), (d.LOST, 3, 5, 5), (d.LOST, None, 4, 4)])
def test_a_lost_tablets_waiting_count_only_grows(state, kept, reported, shown):
    assert d.waiting_to_keep(state, kept, reported) == shown
