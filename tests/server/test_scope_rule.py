"""One scope rule: every role decision lives in server/scope.py, and each of its functions does for every role
what the services relied on (table-driven, no database: the WHERE clauses are compared as SQL text)."""
from __future__ import annotations

import ast
import pathlib
from types import SimpleNamespace

import pytest
from sqlalchemy import column

from server import scope
from server.errors import Forbidden, Invalid, NotFound
from server.scope import Actor

P = pytest.param
SERVER = pathlib.Path(scope.__file__).parent
SCOPE_MODULES = {"scope.py"}
# Comparisons with a role name that are not "who may see or do what"; each with its reason. The test also
# fails when an entry no longer matches anything, so the list cannot rot.
NOT_SCOPE = {
    ("auth/users.py", "create_user"): "which fields a new account of that role needs (validation, not access)",
    ("auth/users.py", "move_to_team"): "only a GP account belongs to a team (what the account is, not access)",
    ("org/services.py", "team_members"): "a team's members are its GP accounts (what a team is, not access)",
    ("demo/clinical.py", "load_followups"): "demo data: the team leaders sign the demo visits",
}


def _role_comparisons(tree: ast.AST):
    """(function name, line) of every comparison of `.role` or a role-name literal."""
    found = []

    def is_role(node) -> bool:
        if isinstance(node, ast.Attribute) and node.attr == "role":
            return True
        if isinstance(node, ast.Constant) and node.value in scope.ROLES:
            return True
        return isinstance(node, (ast.Tuple, ast.List, ast.Set)) and any(is_role(e) for e in node.elts)

    def walk(node, func):
        for child in ast.iter_child_nodes(node):
            name = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else func
            if isinstance(child, ast.Compare) and any(is_role(n) for n in (child.left, *child.comparators)):
                found.append((name, child.lineno))
            walk(child, name)

    walk(tree, None)
    return found


def test_no_role_decision_outside_scope():
    """A service that compares a role itself would be a second scope rule; it must call server/scope.py."""
    offenders, used = [], set()
    for path in sorted(SERVER.rglob("*.py")):
        rel = path.relative_to(SERVER).as_posix()
        if rel in SCOPE_MODULES:
            continue
        for func, line in _role_comparisons(ast.parse(path.read_text(encoding="utf-8"))):
            if (rel, func) in NOT_SCOPE:
                used.add((rel, func))
            else:
                offenders.append(f"server/{rel}:{line} ({func})")
    assert not offenders, "role compared outside server/scope.py; add a named function there: " + ", ".join(
        offenders)
    assert used == set(NOT_SCOPE), f"NOT_SCOPE entries that match nothing: {set(NOT_SCOPE) - used}"


def test_the_check_sees_role_comparisons():
    """The detector itself: these are the shapes a service would write."""
    src = '''
def a(actor):
    if actor.role == "gp": pass
def b(actor):
    return actor.role not in ("gp", "admin")
def c(role):
    return role == "center_staff"
def d(User):
    return User.role == "specialist"
def e(actor, roles):
    return actor.role in roles
def f(x):
    return x == "gpx" or x.kind == "admin_note"
'''
    assert [name for name, _ in _role_comparisons(ast.parse(src))] == ["a", "b", "c", "d", "e"]


# --- the functions, for every role --------------------------------------------------------------------

ACTORS = {
    "gp": Actor(1, "gp", "gp", team_id=11, center_id=1),
    "gp_no_team": Actor(2, "gp0", "gp", team_id=None, center_id=1),
    "center_staff": Actor(3, "staff", "center_staff", center_id=1),
    "center_staff_no_center": Actor(4, "staff0", "center_staff"),
    "specialist": Actor(5, "spec", "specialist", hospital_id=7),
    "admin": Actor(6, "admin", "admin"),
}
ALL = tuple(ACTORS)
team_col, center_col = column("team_id"), column("center_id")


def sql(clause) -> str:
    return str(clause.compile(compile_kwargs={"literal_binds": True}))


@pytest.mark.parametrize(("who", "where"), [
    ("gp", "team_id = 11"), ("gp_no_team", "false"), ("center_staff", "center_id = 1"),
    ("center_staff_no_center", "false"), ("specialist", "false"), ("admin", "true"),
])
def test_rows_visible_and_teams_visible(who, where):
    assert sql(scope.rows_visible(ACTORS[who], team_col, center_col)) == where
    assert sql(scope.teams_visible(ACTORS[who], team_col, center_col)) == where


# (team_id, center_id) of a row -> who sees it
CAN_SEE = [
    ((11, 1), {"gp", "center_staff", "admin"}),
    ((12, 1), {"center_staff", "admin"}),
    ((None, 1), {"center_staff", "admin"}),
    ((21, 2), {"admin"}),
]


@pytest.mark.parametrize(("row", "seen_by"), CAN_SEE)
@pytest.mark.parametrize("who", ALL)
def test_can_see_and_require_visible(who, row, seen_by):
    actor = ACTORS[who]
    assert scope.can_see(actor, *row) == (who in seen_by)
    loaded = SimpleNamespace(team_id=row[0], center_id=row[1])
    if who in seen_by:
        assert scope.require_visible(actor, loaded, "household") is loaded
    else:
        with pytest.raises(NotFound, match="No such household."):
            scope.require_visible(actor, loaded, "household")


TEAM_11, TEAM_21 = SimpleNamespace(id=11, center_id=1), SimpleNamespace(id=21, center_id=2)


@pytest.mark.parametrize(("who", "sees"), [
    ("gp", {11}), ("gp_no_team", set()), ("center_staff", {11}), ("center_staff_no_center", set()),
    ("specialist", set()), ("admin", {11, 21}),
])
def test_require_team_access(who, sees):
    for team in (TEAM_11, TEAM_21, None):
        if team is not None and team.id in sees:
            assert scope.require_team_access(ACTORS[who], team) is team
        else:
            with pytest.raises(NotFound) as e:
                scope.require_team_access(ACTORS[who], team)
            assert (e.value.message, e.value.errors) == ("No such team.", {"team_id": ["no such team in your scope"]})


ALLOWED = {  # function -> roles allowed (the actors of those roles, whatever their team or center)
    "require_admin": {"admin"},
    "require_followup_recorder": {"gp", "gp_no_team", "admin"},
    "require_care_role": {"gp", "gp_no_team", "center_staff", "center_staff_no_center", "admin"},
    "require_team_member": {"gp"},
}


@pytest.mark.parametrize("func", sorted(ALLOWED))
@pytest.mark.parametrize("who", ALL)
def test_what_a_role_may_do(func, who):
    call = getattr(scope, func)
    args = () if func == "require_followup_recorder" else ("Not for you.",)
    if who in ALLOWED[func]:
        result = call(ACTORS[who], *args)
        assert result == (11 if func == "require_team_member" else None)
    else:
        with pytest.raises(Forbidden) as e:
            call(ACTORS[who], *args)
        assert e.value.errors == {"authorization": "role"}


@pytest.mark.parametrize("who", ALL)
def test_role_flags(who):
    admin = who == "admin"
    assert scope.may_manage_users(ACTORS[who]) is admin
    assert scope.sees_whole_district(ACTORS[who]) is admin
    assert scope.default_team(ACTORS[who]) == (11 if who == "gp" else None)


@pytest.mark.parametrize(("who", "where"), [
    ("gp", "center_id = 1"), ("gp_no_team", "center_id = 1"), ("center_staff", "center_id = 1"),
    ("center_staff_no_center", "center_id = 0"), ("specialist", "center_id = 0"), ("admin", "true"),
])
def test_own_center_rows(who, where):
    assert sql(scope.own_center_rows(ACTORS[who], center_col)) == where


@pytest.mark.parametrize(("who", "where"), [
    ("gp", "team_id = 11"), ("gp_no_team", "team_id IS NULL"), ("center_staff", "center_id = 1"),
    ("center_staff_no_center", "center_id IS NULL"), ("specialist", Invalid), ("admin", "true"),
])
def test_users_visible(who, where):
    if where is Invalid:
        with pytest.raises(Invalid, match="Specialists have no user list."):
            scope.users_visible(ACTORS[who], team_col, center_col)
    else:
        assert sql(scope.users_visible(ACTORS[who], team_col, center_col)) == where


@pytest.mark.parametrize(("who", "asked", "expected"), [
    ("gp", None, (11, 1)), ("gp", 2, (11, 1)), ("gp_no_team", None, (-1, 1)),
    ("center_staff", None, (None, 1)), ("center_staff", 1, (None, 1)), ("center_staff", 2, NotFound),
    ("center_staff_no_center", None, (None, -1)),
    ("specialist", None, (-1, -1)),
    ("admin", None, (None, None)), ("admin", 2, (None, 2)), ("admin", 99, NotFound),
])
def test_report_scope(who, asked, expected):
    exists = {1, 2}.__contains__
    if expected is NotFound:
        with pytest.raises(NotFound, match="No such center."):
            scope.report_scope(ACTORS[who], asked, exists)
    else:
        assert scope.report_scope(ACTORS[who], asked, exists) == expected


OWN = SimpleNamespace(center_id=1, team_id=11)  # the GP's team's committee
OTHER_TEAM = SimpleNamespace(center_id=1, team_id=12)
OTHER_CENTER = SimpleNamespace(center_id=2, team_id=21)


@pytest.mark.parametrize(("who", "committee", "expected"), [
    ("gp", OWN, 11), ("gp", OTHER_TEAM, "this committee is not in your team's service area"),
    ("gp", OTHER_CENTER, "no such committee in your center"), ("gp", None, "no such committee in your center"),
    ("center_staff", OWN, 11), ("center_staff", OTHER_TEAM, 12),
    ("center_staff", OTHER_CENTER, "no such committee in your center"),
    ("specialist", OWN, "no such committee in your center"),
    ("admin", OTHER_CENTER, 21), ("admin", None, "no such committee in your center"),
])
def test_new_household_team(who, committee, expected):
    if isinstance(expected, str):
        with pytest.raises(Invalid) as e:
            scope.new_household_team(ACTORS[who], committee)
        assert e.value.errors == {"committee_id": [expected]}
    else:
        assert scope.new_household_team(ACTORS[who], committee) == expected


@pytest.mark.parametrize(("who", "where"), [
    ("center_staff", "feed_id IN (1)"), ("admin", "true"),
    ("gp", Forbidden), ("gp_no_team", Forbidden), ("center_staff_no_center", Forbidden), ("specialist", Forbidden),
])
def test_queue_visible(who, where):
    def of_center(center_id):
        return column("feed_id").in_([center_id])

    if where is Forbidden:
        with pytest.raises(Forbidden, match="The queue is for center staff."):
            scope.queue_visible(ACTORS[who], of_center, "The queue")
    else:
        assert sql(scope.queue_visible(ACTORS[who], of_center, "The queue")) == where


@pytest.mark.parametrize("who", ALL)
def test_require_center(who):
    allowed = who == "admin" or who == "center_staff"
    if allowed:
        scope.require_center(ACTORS[who], 1)
    else:
        with pytest.raises(Forbidden):
            scope.require_center(ACTORS[who], 1)
    if who != "admin":
        with pytest.raises(Forbidden):
            scope.require_center(ACTORS[who], 2)


def test_require_role_with_no_roles_lets_anyone_in():
    for actor in ACTORS.values():
        scope.require_role(actor, (), "never")
