"""Today's worklist: critical results and calls due on top, then the buckets in route order; search by
name, pinyin initials or address; filter by condition and member. Computed on the tablet
(fieldapp.worklist) from the store."""
from __future__ import annotations

from kivy.properties import BooleanProperty, ListProperty, ObjectProperty, StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout

from fieldapp.worklist import BUCKETS, WorklistBuilder
from gpcore.referral import URGENCIES

from . import theme
from .base import BaseScreen
from .strings import t

BUCKET_COLOURS = {"emergency": theme.DANGER, "referral": theme.WARN, "recheck": theme.WARN,
                  "overdue": theme.DANGER, "due_this_week": theme.PRIMARY, "not_seen_this_year": theme.MUTED}


class WorklistRow(ButtonBehavior, BoxLayout):
    """One row of the list (a patient and condition, a critical result, or a search hit)."""

    title = StringProperty("")
    detail = StringProperty("")
    tags = StringProperty("")
    alert = BooleanProperty(False)
    payload = ObjectProperty(None, allownone=True)  # None: a heading row
    tag_colour = ListProperty(list(theme.PRIMARY))

    def on_release(self):
        self.screen.pick(self.payload)

    @property
    def screen(self):
        from kivy.app import App
        return App.get_running_app().manager.get_screen("worklist")


class WorklistScreen(BaseScreen):
    """The first screen of the day."""

    condition = StringProperty("")
    mine = BooleanProperty(False)
    summary = StringProperty("")
    drafts_text = StringProperty("")
    builder = None

    def open(self, refresh: bool = True, **_):
        """Build the list from the store (again, after a visit or a sync)."""
        if refresh or self.builder is None:
            self.builder = WorklistBuilder(self.store, self.session.today())
        drafts = self.store.drafts()
        self.drafts_text = t("worklist.drafts", names="、".join(d["name"] or "" for d in drafts[:5])) if drafts else ""
        self.ids.who.text = f"{t('worklist.title')} · {self.session.me.get('full_name', '')}"
        self.show()

    def search(self, text: str) -> None:
        """Filter as the doctor types."""
        self.show()

    def set_condition(self, condition: str) -> None:
        """Filter by condition ('' for all)."""
        self.condition = condition
        self.show()

    def set_mine(self, mine: bool) -> None:
        """Only the patients this member is responsible for."""
        self.mine = mine
        self.show()

    def show(self) -> None:
        """Put the built list into the RecycleView."""
        me = self.session.me.get("id") if self.mine else None
        wl = self.builder.build(self.ids.search.text, condition=self.condition or None, member_id=me)
        rows = []
        for a in wl.alerts:
            rows.append({"title": f"{a['name']} · {a.get('panel_name') or t('lab.title')}",
                         "detail": a.get("address") or "", "alert": True, "tag_colour": list(theme.DANGER),
                         "tags": t("worklist.call_due") if a["call_due"] else t("worklist.critical_new"),
                         "payload": ("lab", a["id"])})
        for i in wl.items:
            rows.append({"title": f"{i['name']}  {i['age']}岁 · {t('condition.' + i['condition'])}",
                         "detail": (i.get("address") or "") + "  " + _when(i), "alert": False,
                         "tags": " ".join([t("bucket." + b) for b in i["buckets"]] + _offer(i)),
                         "tag_colour": list(BUCKET_COLOURS[i["buckets"][0]]),
                         "payload": ("household", i["household_id"], i["resident_id"])})
        if wl.others:
            rows.append({"title": t("worklist.others"), "detail": "", "tags": "", "alert": False,
                         "tag_colour": list(theme.MUTED), "payload": None})
        for h in wl.others:
            rows.append({"title": h["name"], "detail": h.get("address") or "", "tags": "", "alert": False,
                         "tag_colour": list(theme.MUTED), "payload": ("household", h["household_id"], h["id"])})
        self.ids.rv.data = rows
        counts = "  ".join(f"{t('bucket.' + b)} {wl.counts[b]}" for b in BUCKETS if wl.counts[b])
        self.summary = (t("worklist.counts", n=len(wl.items)) + "  " + counts) if wl.items or wl.alerts \
            else t("worklist.empty")
        self.visible = wl

    def pick(self, payload) -> None:
        """Open what a row stands for."""
        if not payload:
            return
        if payload[0] == "lab":
            self.app.route("lab", report_id=payload[1])
        else:
            self.app.route("household", household_id=payload[1], resident_id=payload[2])


def _offer(item: dict) -> list[str]:
    """The tag of a referral the rules asked for and nobody sent yet (the resident screen offers it filled)."""
    offer = item.get("referral_offer")
    return [t("worklist.offer", urgency=URGENCIES[offer["urgency"]])] if offer else []


def _when(item: dict) -> str:
    if item.get("overdue_days"):
        return t("worklist.overdue_days", n=item["overdue_days"])
    if item.get("referral_due_date"):
        return t("worklist.referral_due", date=item["referral_due_date"])
    if item.get("next_visit_date"):
        return t("worklist.next", date=item["next_visit_date"])
    return t("worklist.never") if not item.get("visit_date") else ""
