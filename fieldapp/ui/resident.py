"""A resident's file: basics, conditions, allergies, medications, BP and glucose trends drawn from the
visits on the tablet, lab reports, the follow-up history (with amendment), and the referrals (fieldapp/ui/referral.py)."""
from __future__ import annotations

from functools import partial

from kivy.properties import BooleanProperty, StringProperty

from gpcore import health_file
from gpcore.clock import china_minute
from gpcore.followup import codes

from fieldapp import trends
from fieldapp.printouts import patient_of

from . import theme
from .base import BaseScreen
from .referral import fill_referrals
from .strings import t
from .widgets import Lbl, Row


LABS_SHOWN = 5
VISITS_SHOWN = 8


class ResidentScreen(BaseScreen):
    """Opened from a household member."""

    heading = StringProperty("")
    allergic = BooleanProperty(False)
    has_bp = BooleanProperty(False)
    has_fpg = BooleanProperty(False)

    def open(self, resident_id: str, **_):
        """Fill in the file."""
        res = self.store.resident(resident_id)
        self.resident_id = resident_id
        today = self.session.today()
        patient = patient_of(res, today)
        self.heading = f"{t('resident.title')} · {res['name']}"
        visits = self.store.visits(resident_id)
        self._basics(res, patient, visits)
        self._charts(visits)
        self._labs(resident_id)
        self._history(visits)
        fill_referrals(self.ids.referrals, self.app, resident_id)
        self.ids.scroll.scroll_y = 1

    def _basics(self, res: dict, patient, visits: list[dict]) -> None:
        lines = [f"{res['name']}  {health_file.SEX.get(res.get('sex') or '', '')}  {patient.age_text}  "
                 f"{t('resident.birth')} {res.get('birth_date') or ''}",
                 f"{t('resident.id_number')} {res.get('id_number') or t('common.not_filled')}  "
                 f"{t('resident.record_number')} {res.get('record_number') or ''}",
                 f"{t('resident.phone')} {res.get('phone') or t('common.not_filled')}  "
                 f"{t('resident.contact')} {res.get('contact_name') or ''} {res.get('contact_phone') or ''}",
                 res.get("address") or ""]
        managed = [f"{health_file.CHRONIC_CONDITION.get(c['condition'], c['condition'])}"
                   f"（{health_file.MANAGEMENT_STATUS.get(c.get('status') or 'managed', '')}"
                   f"{'，' + c['diagnosed_on'] + '确诊' if c.get('diagnosed_on') else ''}）"
                   for c in res.get("conditions") or []]
        lines.append(f"{t('resident.conditions')}：{'、'.join(managed) or t('common.none')}")
        # One label for the lines that need no colour of their own: each label is a texture to render.
        self.ids.basics.text = "\n".join(line for line in lines if line)
        allergies = [health_file.DRUG_ALLERGY.get(a, a) for a in res.get("drug_allergies") or []]
        if res.get("drug_allergy_other"):
            allergies.append(res["drug_allergy_other"])
        self.allergic = bool(allergies) and allergies != ["无"]
        self.ids.allergies.text = f"{t('resident.allergies')}：{'、'.join(allergies) or t('common.not_filled')}"
        meds = []
        for v in visits:  # newest first: the latest visit that listed drugs
            form = v.get("form") or {}
            if (v.get("kind") or "visit") == "visit" and form.get("medications"):
                meds = [f"{m['name']} 每日{m.get('times_per_day', '')}次 每次{m.get('mg_per_time', 0):g}mg"
                        for m in form["medications"]]
                if form.get("insulin_type"):
                    meds.append(f"胰岛素 {form['insulin_type']} {form.get('insulin_usage_dose') or ''}")
                break
        self.ids.medications.text = f"{t('resident.medications')}：{'；'.join(meds) or t('common.none')}"

    def _charts(self, visits: list[dict]) -> None:
        series = trends.trends([v for v in visits if (v.get("kind") or "visit") == "visit"])
        self.has_bp = bool(series["sbp"].points)
        self.has_fpg = bool(series["fpg"].points)
        self.ids.bp_chart.colours = [theme.SBP_COLOUR, theme.DBP_COLOUR]
        self.ids.bp_chart.series = [series["sbp"], series["dbp"]]
        self.ids.fpg_chart.colours = [theme.FPG_COLOUR]
        self.ids.fpg_chart.series = [series["fpg"]] if self.has_fpg else []
        self.charts = self.ids.charts

    def _labs(self, resident_id: str) -> None:
        card = self.ids.labs
        card.clear_widgets()
        reports = self.store.lab_reports(resident_id)
        if not reports:
            card.add_widget(Lbl(text=t("resident.no_labs"), muted=True))
        for rep in reports[:LABS_SHOWN]:
            row = Row(orientation="vertical")
            when = china_minute(rep.get("reported_at") or rep.get("changed_at"))  # kept in UTC
            mark = f"【{t('resident.critical')}】" if rep.get("critical") else ""
            row.add_widget(Lbl(text=f"{mark}{rep.get('panel_name') or ''}  {when}  {rep.get('hospital_name') or ''}",
                               color=theme.DANGER if rep.get("critical") else theme.TEXT))
            row.bind(on_release=partial(self._lab, rep["id"]))
            card.add_widget(row)

    def _lab(self, report_id, *_):
        self.app.route("lab", report_id=report_id)

    def _history(self, visits: list[dict]) -> None:
        card = self.ids.history
        card.clear_widgets()
        if not visits:
            card.add_widget(Lbl(text=t("resident.no_history"), muted=True))
        for v in visits[:VISITS_SHOWN]:
            kind = v.get("kind") or "visit"
            cls = v.get("classification")
            parts = [v.get("visit_date") or "", t("condition." + v["condition"])]
            if kind == "visit":
                mode = codes.VISIT_MODES.get(int(v["visit_mode"])).zh if v.get("visit_mode") else ""
                parts.append(mode)
                if v.get("sbp"):
                    parts.append(f"{v['sbp']}/{v['dbp']}")
                if v.get("fpg_mmol"):
                    parts.append(f"血糖{v['fpg_mmol']:g}")
                if cls:
                    parts.append(codes.VISIT_CLASSIFICATIONS[int(cls)].zh)
            else:
                parts.append({"lost": "失访", "death": "死亡"}.get(kind, kind))
            if v.get("pending"):
                parts.append(f"（{t('resident.pending')}）")
            if v.get("revision"):
                parts.append(f"（{t('resident.amended')}）")
            # A signed visit is amended, never edited: the row's tap opens the amendment form.
            row = Row(orientation="horizontal")
            row.add_widget(Lbl(text="  ".join(p for p in parts if p), pos_hint={"center_y": 0.5}))
            if kind == "visit":
                row.add_widget(Lbl(text=t("resident.amend") + " ›", color=theme.PRIMARY, size_hint_x=None,
                                   width=theme.touch() * 1.6, halign="right", pos_hint={"center_y": 0.5}))
                row.bind(on_release=partial(self._amend, v["id"], v["condition"]))
            card.add_widget(row)

    def _amend(self, visit_id, condition, *_):
        self.app.route("followup", resident_id=self.resident_id, condition=condition, amend_id=visit_id)
