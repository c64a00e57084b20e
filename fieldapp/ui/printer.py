"""Printer settings: the connection (Bluetooth serial /dev/rfcomm*, infrared or USB serial, TCP, USB,
file), paper width, Chinese as the printer's font or as a picture, a test print; problems in plain words
(printing's typed errors carry the Chinese sentence)."""
from __future__ import annotations

from functools import partial

from kivy.properties import StringProperty
from kivy.uix.boxlayout import BoxLayout

from fieldapp import printouts
from printing.queue import FAILED, PRINTED

from . import theme
from .base import BaseScreen
from .printjob import desk, job_words, submit_print
from .strings import t
from .widgets import Btn, Lbl


class PrinterScreen(BaseScreen):
    """Opened from the worklist's top bar."""

    connection = StringProperty("bluetooth")
    width_mm = StringProperty("58")
    mode = StringProperty("text")
    status = StringProperty("")

    def open(self, **_):
        """Show the kept settings and the latest print jobs."""
        config = printouts.PrinterConfig.load(self.store)
        self.connection, self.width_mm, self.mode = config.connection, str(config.width_mm), config.mode
        self.ids.target.text = config.target
        self.status = ""
        the_desk = desk(self.app)
        if self.show_jobs not in the_desk.watchers:
            the_desk.watchers.append(self.show_jobs)
        self.show_jobs()

    def config(self) -> printouts.PrinterConfig:
        """The settings as on the screen."""
        return printouts.PrinterConfig(connection=self.connection, target=self.ids.target.text.strip(),
                                       width_mm=int(self.width_mm), mode=self.mode)

    def save(self) -> bool:
        """Keep the settings (False, with the reason shown, when they cannot work)."""
        config = self.config()
        try:
            config.setting()
        except Exception as err:  # noqa: BLE001 - PrinterSettingError's words
            self.status = str(err)
            return False
        config.save(self.store)
        self.status = t("printer.saved")
        return True

    def test_print(self):
        """Save, then queue the test slip; its news comes back on the main thread."""
        if not self.save():
            return None
        config = self.config()
        return submit_print(self.app, config, printouts.test_page_bytes(config), t("printer.test_page"),
                            t("printer.test_ok"), lambda message: setattr(self, "status", message))

    def show_jobs(self, *_):
        """The latest jobs: what each is, where it stands in plain words, a reprint button on those that
        did not print."""
        box = self.ids.jobs
        box.clear_widgets()
        jobs = desk(self.app).printer.jobs(limit=6)
        if not jobs:
            box.add_widget(Lbl(text=t("printer.no_jobs"), muted=True))
        for job in jobs:
            row = BoxLayout(size_hint_y=None, spacing=theme.touch() / 6)
            words = Lbl(text=f"{job.title}：{job_words(job)}",
                        color=theme.OK if job.status == PRINTED else (theme.DANGER if job.last_error else theme.TEXT))
            row.add_widget(words)
            if job.status == FAILED:
                again = Btn(text=t("printer.retry"), kind="quiet", size_hint_x=None, width=theme.touch() * 2)
                again.bind(on_release=partial(self._retry, job.id))
                row.add_widget(again)
            row.bind(minimum_height=row.setter("height"))
            box.add_widget(row)

    def _retry(self, job_id, *_):
        desk(self.app).printer.retry(job_id)
        self.show_jobs()
