"""A lab report: results with flags and ranges, critical values marked, the lab's notes and the call
noted; a print preview rendered from the very bytes that will print, and print."""
from __future__ import annotations


from kivy.properties import StringProperty
from kivy.uix.boxlayout import BoxLayout

from fieldapp import printouts
from gpcore.clock import china_minute

from . import theme
from .base import BaseScreen
from .paper import preview_image
from .printjob import submit_print
from .strings import t
from .widgets import Btn, Card, Lbl, Title

MARKS = {"HH": "↑↑", "LL": "↓↓", "AA": "**", "H": "↑", "L": "↓", "A": "*"}


class LabScreen(BaseScreen):
    """Opened from the worklist's alerts or a resident's reports."""

    heading = StringProperty("")
    status = StringProperty("")

    def open(self, report_id, **_):
        """Fill in the report."""
        self.report_id = report_id
        rep = self.store.lab_report(report_id)
        res = self.store.resident(rep["resident_id"])
        self.heading = f"{t('lab.title')} · {res['name']}"
        self.status = ""
        body = self.ids.body
        body.clear_widgets()
        head = Card()
        head.add_widget(Title(text=rep.get("panel_name") or t("lab.title")))
        head.add_widget(Lbl(text=f"{t('lab.hospital')}：{rep.get('hospital_name') or ''}  "
                                 f"{t('lab.specimen')}：{rep.get('specimen_type') or ''}"))
        when = china_minute(rep.get("reported_at") or rep.get("changed_at"))  # kept in UTC
        head.add_widget(Lbl(text=f"{t('lab.reported')}：{when}"))
        if rep.get("critical_call_note"):
            head.add_widget(Lbl(text=t("lab.call", note=rep["critical_call_note"]), color=theme.DANGER))
        body.add_widget(head)
        rows = Card()
        rows.add_widget(Lbl(text=f"{t('lab.item')} / {t('lab.result')} / {t('lab.range')}", muted=True))
        for r in rep["results"]:
            flag = printouts._flag(r.get("flags"))
            value = r.get("value_text") if r.get("value_text") is not None else r.get("value_num")
            critical = bool(r.get("critical"))
            text = (f"{'【' + t('lab.critical') + '】' if critical else ''}{r.get('name') or r.get('code')}  "
                    f"{value if value is not None else ''} {r.get('unit') or ''} {MARKS.get(flag, '')}"
                    f"   {t('lab.range')} {r.get('range_text') or ''}")
            colour = theme.DANGER if critical else (theme.WARN if flag else theme.TEXT)
            rows.add_widget(Lbl(text=text, color=colour, bold=critical))
            for note in r.get("comments") or []:
                rows.add_widget(Lbl(text="  " + note, muted=True))
        body.add_widget(rows)
        if rep.get("comments"):
            notes = Card()
            notes.add_widget(Title(text=t("lab.notes")))
            for note in rep["comments"]:
                notes.add_widget(Lbl(text=note))
            body.add_widget(notes)
        buttons = BoxLayout(size_hint_y=None, height=Btn().height, spacing=theme.touch() / 6)
        show = Btn(text=t("lab.preview"), kind="quiet")
        show.bind(on_release=lambda *_: self.show_preview())
        go = Btn(text=t("lab.print"), kind="primary")
        go.bind(on_release=lambda *_: self.print_report())
        buttons.add_widget(show)
        buttons.add_widget(go)
        body.add_widget(buttons)
        self.preview_card = Card()
        body.add_widget(self.preview_card)

    def report_bytes(self) -> bytes:
        """The report's bytes for the configured printer."""
        config = printouts.PrinterConfig.load(self.store)
        return printouts.lab_bytes(config, printouts.lab_report_for(self.store, self.report_id, self.session.today()))

    def show_preview(self) -> None:
        """Render the bytes as the paper will look and show the picture."""
        self.preview_card.clear_widgets()
        self.preview_card.add_widget(preview_image(self.store, self.report_bytes()))

    def print_report(self):
        """Queue the report for the printer; its news comes back on the main thread."""
        config = printouts.PrinterConfig.load(self.store)
        return submit_print(self.app, config, self.report_bytes(), f"{t('lab.title')} {self.report_id}",
                            t("lab.printed"), lambda message: setattr(self, "status", message),
                            document_key=f"lab-report:{self.report_id}")
