"""Printing off the main thread: the bytes go out on a worker (a Bluetooth printer may take seconds to
answer), and the outcome, in words a nurse understands, comes back on the main thread through Clock."""
from __future__ import annotations

import threading
from typing import Callable

from kivy.clock import Clock

from fieldapp import printouts


def print_in_background(config: printouts.PrinterConfig, data: bytes, done_text: str,
                        show: Callable[[str], None]) -> threading.Thread:
    """Send `data` to the configured printer; show(done_text) or show(the printing error's Chinese words)."""
    def work():
        try:
            printouts.send(config, data)
            message = done_text
        except Exception as err:  # noqa: BLE001 - printing's typed errors carry the Chinese sentence
            message = str(err)
        Clock.schedule_once(lambda _dt: show(message))
    worker = threading.Thread(target=work, daemon=True, name="print")
    worker.start()
    return worker
