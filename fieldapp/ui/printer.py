"""Printer settings: the connection (Bluetooth serial /dev/rfcomm*, infrared or USB serial, TCP, USB,
file), paper width, Chinese as the printer's font or as a picture, a test print; problems in plain words
(printing's typed errors carry the Chinese sentence)."""
from __future__ import annotations

import threading

from kivy.properties import StringProperty

from fieldapp import printouts

from .base import BaseScreen
from .printjob import print_in_background
from .strings import t


class PrinterScreen(BaseScreen):
    """Opened from the worklist's top bar."""

    connection = StringProperty("bluetooth")
    width_mm = StringProperty("58")
    mode = StringProperty("text")
    status = StringProperty("")

    def open(self, **_):
        """Show the kept settings."""
        config = printouts.PrinterConfig.load(self.store)
        self.connection, self.width_mm, self.mode = config.connection, str(config.width_mm), config.mode
        self.ids.target.text = config.target
        self.status = ""

    def config(self) -> printouts.PrinterConfig:
        """The settings as on the screen."""
        return printouts.PrinterConfig(connection=self.connection, target=self.ids.target.text.strip(),
                                       width_mm=int(self.width_mm), mode=self.mode)

    def save(self) -> None:
        """Keep the settings."""
        config = self.config()
        try:
            config.setting()
        except Exception as err:  # noqa: BLE001 - PrinterSettingError's words
            self.status = str(err)
            return
        config.save(self.store)
        self.status = t("printer.saved")

    def test_print(self) -> threading.Thread:
        """Save, then print the test slip in a worker; the outcome comes back on the main thread."""
        self.save()
        config = self.config()
        return print_in_background(config, printouts.test_page_bytes(config), t("printer.test_ok"),
                                   lambda message: setattr(self, "status", message))
