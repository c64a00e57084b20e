"""Shared helpers for the printing tests: fake printers on a pty and on TCP, and column slicing."""

from __future__ import annotations

import os
import socket
import threading
import tty

import pytest

from printing.columns import char_columns

STATUS_OK = {1: 0x12, 2: 0x12, 3: 0x12, 4: 0x12}
# Offline because the paper ran out: DLE EOT 1 offline bit, 2 paper-end stop, 4 paper-end sensor.
STATUS_PAPER_OUT = {1: 0x12 | 0x08, 2: 0x12 | 0x20, 3: 0x12, 4: 0x12 | 0x60}
STATUS_COVER_OPEN = {1: 0x12 | 0x08, 2: 0x12 | 0x04, 3: 0x12, 4: 0x12}
STATUS_CUTTER_JAM = {1: 0x12 | 0x08, 2: 0x12 | 0x40, 3: 0x12 | 0x08, 4: 0x12}


def _split_at_column(line: str, column: int) -> tuple[str, str]:
    """Split a line at a column; fails if a double-width character straddles it."""
    used = 0
    for i, c in enumerate(line):
        if used == column:
            return line[:i], line[i:]
        used += char_columns(c)
        assert used <= column, f"character {c!r} straddles column {column} in {line!r}"
    assert used == column, f"line shorter than {column} columns: {line!r}"
    return line, ""


@pytest.fixture
def split_at_column():
    """The column splitter (test modules cannot import conftest under --import-mode=importlib)."""
    return _split_at_column


@pytest.fixture
def printer_status():
    """Status answers of a fake printer by situation."""
    return {"ok": STATUS_OK, "paper_out": STATUS_PAPER_OUT, "cover_open": STATUS_COVER_OPEN,
            "cutter_jam": STATUS_CUTTER_JAM}


class FakePrinterSide:
    """Reads what the transport wrote and answers DLE EOT n queries like a printer (or stays silent)."""

    def __init__(self, read, write, status: dict[int, int] | None):
        self._read, self._write = read, write
        self.status = status
        self.received = bytearray()
        self.queries: list[int] = []
        self._scan = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            chunk = self._read()
            if chunk is None:
                continue
            if not chunk:
                break
            self.received += chunk
            while True:
                at = self.received.find(b"\x10\x04", self._scan)
                if at < 0 or at + 2 >= len(self.received):
                    break
                n = self.received[at + 2]
                self._scan = at + 3
                self.queries.append(n)
                if self.status is not None and n in self.status:
                    self._write(bytes([self.status[n]]))

    def wait_for(self, size: int, timeout: float = 5.0) -> bytes:
        """Wait until at least `size` bytes arrived and return everything received."""
        import time

        deadline = time.monotonic() + timeout
        while len(self.received) < size and time.monotonic() < deadline:
            time.sleep(0.01)
        return bytes(self.received)

    def stop(self):
        self._stop.set()


@pytest.fixture
def pty_printer():
    """A factory: a serial printer on a pseudo-terminal -> (slave path, FakePrinterSide)."""
    made = []

    def make(status=STATUS_OK):
        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)

        def read():
            import select

            ready, _, _ = select.select([master], [], [], 0.05)
            if not ready:
                return None
            try:
                return os.read(master, 65536)
            except BlockingIOError:
                return None
            except OSError:
                return b""

        def write(data):
            os.write(master, data)

        side = FakePrinterSide(read, write, status)
        made.append((master, slave, side))
        return os.ttyname(slave), side

    yield make
    for master, slave, side in made:
        side.stop()
        side._thread.join(2)
        os.close(slave)
        os.close(master)


@pytest.fixture
def tcp_printer():
    """A factory: a network printer on 127.0.0.1 (ephemeral port) -> (port, list of FakePrinterSide)."""
    servers = []

    def make(status=STATUS_OK):
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen(4)
        sides: list[FakePrinterSide] = []

        def accept_loop():
            while True:
                try:
                    conn, _ = server.accept()
                except OSError:
                    return
                conn.settimeout(0.05)

                def read(conn=conn):
                    try:
                        return conn.recv(65536)
                    except socket.timeout:
                        return None
                    except OSError:
                        return b""

                sides.append(FakePrinterSide(read, conn.sendall, status))

        threading.Thread(target=accept_loop, daemon=True).start()
        servers.append((server, sides))
        return server.getsockname()[1], sides

    yield make
    for server, sides in servers:
        server.close()
        for side in sides:
            side.stop()
