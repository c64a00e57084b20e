"""Deterministic, realistic household files for the demo and the benchmarks (shared/design/caseload.md).

Plain Python over random.Random(seed): the same seed gives the same district, byte for byte.
"""
from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from gpcore import idcard

SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
            "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
GIVEN_M = "伟强磊军勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆帅旭宁龙林国建志海峰庆文德永成春东兴家福"
GIVEN_F = "芳娜敏静丽艳娟霞秀英华玲桂兰萍红梅琳燕雪慧婷颖洁琴云莉倩月凤春晶欣怡佳丹蓉"
STREETS = ("浦东南路", "潍坊路", "崂山路", "南泉路", "峨山路", "东方路", "张杨路", "福山路", "源深路", "桃林路",
           "松林路", "崮山路", "文登路", "乳山路", "栖霞路", "商城路")
# Estate names are a place word and a kind; every committee of a generated district gets its own
# street + lane + estate, so an address fragment finds one committee's households, as in a real
# district, not the same estate repeated in every team (which made address search unrealistically broad).
ESTATE_PLACES = ("潍坊", "崂山", "南泉", "峨山", "东方", "源深", "桃林", "松林", "福山", "乳山", "栖霞", "商城",
                 "文登", "崮山", "竹园", "梅园", "金桥", "张江", "花木", "洋泾", "塘桥")
ESTATE_KINDS = ("新村", "小区", "花园", "公寓", "苑", "家园", "名邸", "大楼")


@dataclass
class Member:
    name: str
    sex: str
    birth_date: dt.date
    id_number: str
    phone: str | None
    relation_to_head: str
    hypertension: dt.date | None = None
    t2dm: dt.date | None = None


@dataclass
class HouseholdFile:
    household_key: str
    committee_index: int
    address: str
    members: list[Member] = field(default_factory=list)


class Generator:
    """Draws names, IDs and households; one instance keeps ID numbers unique across teams."""

    def __init__(self, seed: int, county_code: str = "310115", today: dt.date | None = None):
        self.rng = random.Random(seed)
        self.county = county_code
        self.today = today or dt.date(2026, 1, 1)
        self.used_ids: set[str] = set()
        self.used_phones: set[str] = set()
        self.committees_used = 0  # committees given addresses so far, so each gets its own street and estate

    def name(self, sex: str, surname: str | None = None) -> str:
        given = GIVEN_M if sex == "1" else GIVEN_F
        n = 1 if self.rng.random() < 0.3 else 2
        return (surname or self.rng.choice(SURNAMES)) + "".join(self.rng.choice(given) for _ in range(n))

    def birth(self, min_age: int, max_age: int) -> dt.date:
        days = self.rng.randint(min_age * 365 + 1, max_age * 365)
        return self.today - dt.timedelta(days=days)

    def id_number(self, birth: dt.date, sex: str) -> str:
        while True:
            seq = self.rng.randrange(0, 500) * 2 + (1 if sex == "1" else 0)
            number = idcard.make(self.county, birth, seq)
            if number not in self.used_ids:
                self.used_ids.add(number)
                return number

    def phone(self) -> str:
        while True:
            p = f"1{self.rng.choice('3456789')}{self.rng.randrange(10**9):09d}"
            if p not in self.used_phones:
                self.used_phones.add(p)
                return p

    def person(self, relation: str, sex: str, min_age: int, max_age: int, surname: str | None = None,
               with_phone: bool = True) -> Member:
        birth = self.birth(min_age, max_age)
        return Member(self.name(sex, surname), sex, birth, self.id_number(birth, sex),
                      self.phone() if with_phone else None, relation)

    def household(self, key: str, committee_index: int, size: int, address: str) -> HouseholdFile:
        """A household of `size` people: a head of 35-85, a spouse, children, sometimes a parent."""
        hh = HouseholdFile(key, committee_index, address)
        head_sex = self.rng.choice("12")
        head = self.person("02", head_sex, 35, 85)
        surname = head.name[0]
        hh.members.append(head)
        head_age = (self.today - head.birth_date).days // 365
        slots = ["10", "20", "30", "50"]
        while len(hh.members) < size:
            relation = slots[0] if len(hh.members) == 1 else self.rng.choice(slots[1:])
            if relation == "10":
                m = self.person("10", "2" if head_sex == "1" else "1", max(30, head_age - 8), head_age + 5)
            elif relation in ("20", "30"):
                sex = "1" if relation == "20" else "2"
                hi = max(1, head_age - 20)
                m = self.person(relation, sex, max(0, hi - 25), hi, surname, with_phone=hi > 16)
            else:
                m = self.person("50", self.rng.choice("12"), min(100, head_age + 20),
                                min(101, head_age + 32), surname if self.rng.random() < 0.6 else None)
            hh.members.append(m)
        return hh

    def address(self, committee_index: int, n: int) -> str:
        """The n-th address in a committee; committee_index counts committees across the generator's
        district, so (street, lane) and the estate name differ between committees (168 distinct estates)."""
        g = committee_index
        street = STREETS[g % len(STREETS)]
        lane = 100 + (g // len(STREETS)) * 7
        place, kind = g % len(ESTATE_PLACES), g // len(ESTATE_PLACES) % len(ESTATE_KINDS)
        estate = ESTATE_PLACES[place] + ESTATE_KINDS[kind]
        building, rest = divmod(n, 24)
        unit, room = divmod(rest, 6)
        return f"{street}{lane}弄{estate}{building + 1}号{unit + 1}0{room + 1}室"


def team_caseload(gen: Generator, team_key: str, committees: int, households: int, residents: int,
                  hypertension: int, diabetes: int, both: int) -> list[HouseholdFile]:
    """One team's households with exactly these counts (caseload.md: 5000/15000/3000/1000/500)."""
    rng = gen.rng
    sizes = [1] * households
    for _ in range(residents - households):  # spread the rest; cap 6 people a household
        i = rng.randrange(households)
        while sizes[i] >= 6:
            i = rng.randrange(households)
        sizes[i] += 1
    files = []
    first_committee = gen.committees_used
    gen.committees_used += committees
    for i, size in enumerate(sizes):
        c = i * committees // households
        files.append(gen.household(f"{team_key}-{i + 1:05d}", c, size, gen.address(first_committee + c, i)))
    adults = [m for hh in files for m in hh.members if (gen.today - m.birth_date).days >= 35 * 365]
    if len(adults) < hypertension + diabetes - both:
        raise ValueError("not enough residents aged 35+ for the requested patients")
    chosen = rng.sample(adults, hypertension + diabetes - both)
    htn, dm_only = chosen[:hypertension], chosen[hypertension:]
    for m in htn:
        m.hypertension = _diagnosis(gen, m)
    for m in htn[:both] + dm_only:
        m.t2dm = _diagnosis(gen, m)
    return files


def _diagnosis(gen: Generator, m: Member) -> dt.date:
    earliest = max(m.birth_date + dt.timedelta(days=30 * 365), gen.today - dt.timedelta(days=20 * 365))
    span = (gen.today - dt.timedelta(days=60) - earliest).days
    return earliest + dt.timedelta(days=gen.rng.randrange(max(span, 1)))
