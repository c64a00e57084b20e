"""Connections to receipt printers, chosen by one setting string, with typed failures.

    serial:/dev/rfcomm0?baudrate=9600      Bluetooth SPP, infrared (/dev/ircomm0) or USB-serial (/dev/ttyUSB0)
    tcp:192.168.1.50:9100                  network printers (port 9100 when omitted)
    usb:0x0416:0x5011                      USB printers through pyusb
    file:/tmp/out.bin                      a file, or a printer device node such as /dev/usb/lp0

Common options (query string): timeout (seconds, default 5) and status=auto|required|off. With status
checking the transport asks the printer for its real-time status (DLE EOT n) before sending and maps paper
out, cover open, offline and errors to exceptions; 'auto' carries on when the printer does not answer
(many portable printers never do), 'required' treats silence as offline.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qsl

from printing.errors import CoverOpen, PaperOut, PrinterError, PrinterOffline, PrinterSettingError

DLE_EOT = b"\x10\x04"
PRINTER_STATUS, OFFLINE_CAUSE, ERROR_CAUSE, PAPER_SENSOR = 1, 2, 3, 4
STATUS_ANSWER_WAIT = 0.5  # seconds to wait for a DLE EOT answer before deciding the printer does not answer


@dataclass(frozen=True)
class PrinterStatus:
    """What the printer said about itself (DLE EOT 1-4)."""

    offline: bool = False
    cover_open: bool = False
    paper_out: bool = False
    paper_near_end: bool = False
    error: bool = False
    cutter_error: bool = False
    unrecoverable_error: bool = False

    def raise_if_unable(self) -> None:
        """Raise the exception a nurse must act on, or return when the printer can print."""
        if self.paper_out:
            raise PaperOut("printer reports paper end")
        if self.cover_open:
            raise CoverOpen("printer reports cover open")
        if self.error or self.cutter_error or self.unrecoverable_error:
            raise PrinterError(f"printer reports an error: {self}")
        if self.offline:
            raise PrinterOffline("printer reports itself offline")


def _valid_status_byte(b: int) -> bool:
    # Every DLE EOT answer has bits 1 and 4 set and bits 0 and 7 clear; anything else is not an answer.
    return b & 0x93 == 0x12


class Transport:
    """One connection to a printer. Use as a context manager, or call send() which opens and closes."""

    supports_status = False

    def __init__(self, timeout: float = 5.0, status: str = "auto"):
        if status not in ("auto", "required", "off"):
            raise PrinterSettingError(f"status must be auto, required or off, not {status!r}")
        self.timeout = timeout
        self.status_policy = status

    # subclasses implement these four
    def open(self) -> None:
        """Connect to the printer."""
        raise NotImplementedError

    def close(self) -> None:
        """Disconnect; safe to call twice."""
        raise NotImplementedError

    def write(self, data: bytes) -> None:
        """Send bytes to the printer."""
        raise NotImplementedError

    def read(self, size: int, wait: float) -> bytes:
        """Read up to `size` bytes, waiting at most `wait` seconds; b'' when nothing came."""
        raise NotImplementedError

    def discard_input(self) -> None:
        """Drop bytes the printer sent earlier, so they are not taken as a status answer."""
        while self.read(64, 0.0):
            pass

    def __enter__(self) -> "Transport":
        self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _ask(self, n: int) -> int | None:
        self.write(DLE_EOT + bytes([n]))
        deadline = time.monotonic() + STATUS_ANSWER_WAIT
        while True:
            left = deadline - time.monotonic()
            got = self.read(1, max(0.0, left))
            if got and _valid_status_byte(got[0]):
                return got[0]
            if left <= 0:
                return None

    def query_status(self) -> PrinterStatus | None:
        """Ask the printer for its real-time status; None when it does not answer."""
        if not self.supports_status:
            return None
        self.discard_input()
        printer = self._ask(PRINTER_STATUS)
        if printer is None:
            return None
        offline_cause = self._ask(OFFLINE_CAUSE) or 0x12
        paper = self._ask(PAPER_SENSOR) or 0x12
        error_cause = 0x12
        if offline_cause & 0x40:
            error_cause = self._ask(ERROR_CAUSE) or 0x12
        return PrinterStatus(
            offline=bool(printer & 0x08),
            cover_open=bool(offline_cause & 0x04),
            paper_out=bool(offline_cause & 0x20) or bool(paper & 0x60),
            paper_near_end=bool(paper & 0x0C),
            error=bool(offline_cause & 0x40),
            cutter_error=bool(error_cause & 0x08),
            unrecoverable_error=bool(error_cause & 0x20),
        )

    def check_ready(self) -> PrinterStatus | None:
        """Raise a typed error when the printer says it cannot print; return its status (None if unknown)."""
        if self.status_policy == "off" or not self.supports_status:
            return None
        status = self.query_status()
        if status is None:
            if self.status_policy == "required":
                raise PrinterOffline("printer did not answer the status query")
            return None
        status.raise_if_unable()
        return status

    def send(self, data: bytes) -> PrinterStatus | None:
        """Open, check the printer's status, write the whole job, close. Returns the status read, if any."""
        with self:
            status = self.check_ready()
            self.write(data)
            return status


def _host_port(rest: str, default_port: int = 9100) -> tuple[str, int]:
    if rest.startswith("["):  # [ipv6]:port
        host, _, port = rest[1:].partition("]")
        port = port.lstrip(":")
    else:
        host, _, port = rest.rpartition(":") if ":" in rest else (rest, "", "")
    if not host:
        raise PrinterSettingError(f"no host in {rest!r}")
    try:
        return host, int(port) if port else default_port
    except ValueError:
        raise PrinterSettingError(f"bad port in {rest!r}") from None


class TcpTransport(Transport):
    """A network printer on a raw TCP port (9100)."""

    supports_status = True

    def __init__(self, host: str, port: int = 9100, timeout: float = 5.0, status: str = "auto"):
        super().__init__(timeout, status)
        self.host, self.port = host, port
        self._sock: socket.socket | None = None

    def open(self) -> None:
        try:
            self._sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        except OSError as exc:
            raise PrinterOffline(f"tcp {self.host}:{self.port}: {exc}") from exc

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None

    def write(self, data: bytes) -> None:
        try:
            self._sock.settimeout(self.timeout)
            self._sock.sendall(data)
        except OSError as exc:
            raise PrinterOffline(f"tcp write: {exc}") from exc

    def read(self, size: int, wait: float) -> bytes:
        try:
            self._sock.settimeout(wait if wait > 0 else 0.0)
            return self._sock.recv(size)
        except (BlockingIOError, socket.timeout):
            return b""
        except OSError as exc:
            raise PrinterOffline(f"tcp read: {exc}") from exc


class SerialTransport(Transport):
    """A serial port: Bluetooth SPP (/dev/rfcomm*), infrared (/dev/ircomm*) or USB-serial (/dev/ttyUSB*)."""

    supports_status = True

    def __init__(self, port: str, baudrate: int = 9600, timeout: float = 5.0, status: str = "auto",
                 rtscts: bool = False, dsrdtr: bool = False, xonxoff: bool = False):
        super().__init__(timeout, status)
        self.port, self.baudrate = port, baudrate
        self.flow = {"rtscts": rtscts, "dsrdtr": dsrdtr, "xonxoff": xonxoff}
        self._serial = None

    def open(self) -> None:
        import serial  # pyserial; imported here so TCP or file printing works without it

        try:
            self._serial = serial.Serial(self.port, self.baudrate, timeout=self.timeout,
                                         write_timeout=self.timeout, **self.flow)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise PrinterOffline(f"serial {self.port}: {exc}") from exc

    def close(self) -> None:
        if self._serial is not None:
            try:
                self._serial.close()
            finally:
                self._serial = None

    def write(self, data: bytes) -> None:
        import serial

        try:
            self._serial.write(data)
            self._serial.flush()
        except (serial.SerialException, OSError) as exc:
            # A write timeout means the printer stopped taking data: out of range, or switched off.
            raise PrinterOffline(f"serial write: {exc}") from exc

    def read(self, size: int, wait: float) -> bytes:
        import serial

        try:
            self._serial.timeout = wait
            return self._serial.read(size)
        except (serial.SerialException, OSError) as exc:
            raise PrinterOffline(f"serial read: {exc}") from exc

    def discard_input(self) -> None:
        self._serial.reset_input_buffer()


class UsbTransport(Transport):
    """A USB printer reached through pyusb (bulk OUT endpoint; status through the IN endpoint)."""

    supports_status = True

    def __init__(self, vendor_id: int, product_id: int, timeout: float = 5.0, status: str = "auto",
                 interface: int = 0):
        super().__init__(timeout, status)
        self.vendor_id, self.product_id, self.interface = vendor_id, product_id, interface
        self._device = self._out = self._in = None

    def open(self) -> None:
        try:
            import usb.core
            import usb.util
        except ImportError as exc:
            raise PrinterSettingError("pyusb is not installed, USB printers cannot be used") from exc
        try:
            device = usb.core.find(idVendor=self.vendor_id, idProduct=self.product_id)
        except usb.core.NoBackendError as exc:
            raise PrinterSettingError(f"no libusb backend: {exc}") from exc
        if device is None:
            raise PrinterOffline(f"usb {self.vendor_id:#06x}:{self.product_id:#06x} not connected")
        try:
            if device.is_kernel_driver_active(self.interface):
                device.detach_kernel_driver(self.interface)
            device.set_configuration()
            intf = device.get_active_configuration()[(self.interface, 0)]
            direction = usb.util.endpoint_direction
            self._out = usb.util.find_descriptor(
                intf, custom_match=lambda e: direction(e.bEndpointAddress) == usb.util.ENDPOINT_OUT)
            self._in = usb.util.find_descriptor(
                intf, custom_match=lambda e: direction(e.bEndpointAddress) == usb.util.ENDPOINT_IN)
        except usb.core.USBError as exc:
            raise PrinterOffline(f"usb open: {exc}") from exc
        if self._out is None:
            raise PrinterError("usb printer has no output endpoint")
        self._device = device
        self.supports_status = self._in is not None

    def close(self) -> None:
        if self._device is not None:
            import usb.util

            usb.util.dispose_resources(self._device)
            self._device = None

    def write(self, data: bytes) -> None:
        import usb.core

        try:
            self._out.write(data, int(self.timeout * 1000))
        except usb.core.USBError as exc:
            raise PrinterOffline(f"usb write: {exc}") from exc

    def read(self, size: int, wait: float) -> bytes:
        import usb.core

        try:
            return bytes(self._in.read(max(size, self._in.wMaxPacketSize), max(1, int(wait * 1000))))[:size]
        except usb.core.USBTimeoutError:
            return b""
        except usb.core.USBError as exc:
            raise PrinterOffline(f"usb read: {exc}") from exc


class FileTransport(Transport):
    """A file or device node (/dev/usb/lp0); such printers cannot report status."""

    def __init__(self, path: str, timeout: float = 5.0, status: str = "off", append: bool = True):
        super().__init__(timeout, "off" if status == "auto" else status)
        self.path, self.append = Path(path), append
        self._file = None

    def open(self) -> None:
        try:
            self._file = open(self.path, "ab" if self.append else "wb")
        except OSError as exc:
            raise PrinterOffline(f"file {self.path}: {exc}") from exc

    def close(self) -> None:
        if self._file is not None:
            try:
                self._file.close()
            finally:
                self._file = None

    def write(self, data: bytes) -> None:
        try:
            self._file.write(data)
            self._file.flush()
        except OSError as exc:
            raise PrinterOffline(f"file write: {exc}") from exc

    def read(self, size: int, wait: float) -> bytes:
        return b""


def _flag(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


def _int(value: str) -> int:
    return int(value, 0)


_OPTIONS: dict[str, dict[str, Callable[[str], object]]] = {
    "serial": {"baudrate": int, "rtscts": _flag, "dsrdtr": _flag, "xonxoff": _flag},
    "tcp": {},
    "usb": {"interface": int},
    "file": {"append": _flag},
}


def open_transport(setting: str) -> Transport:
    """The transport a setting string names (not yet connected); PrinterSettingError when it is wrong."""
    scheme, sep, rest = (setting or "").strip().partition(":")
    scheme = scheme.lower()
    if not sep or scheme not in _OPTIONS:
        raise PrinterSettingError(f"unknown printer setting {setting!r} (serial:, tcp:, usb:, file:)")
    target, _, query = rest.partition("?")
    kwargs: dict[str, object] = {}
    allowed = {"timeout": float, "status": str, **_OPTIONS[scheme]}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key not in allowed:
            raise PrinterSettingError(f"unknown option {key!r} for {scheme} printers")
        try:
            kwargs[key] = allowed[key](value)
        except ValueError:
            raise PrinterSettingError(f"bad value {value!r} for {key}") from None
    if not target:
        raise PrinterSettingError(f"printer setting {setting!r} names no device")
    if scheme == "serial":
        return SerialTransport(target, **kwargs)
    if scheme == "tcp":
        host, port = _host_port(target)
        return TcpTransport(host, port, **kwargs)
    if scheme == "usb":
        try:
            vendor, product = (_int(x) for x in target.split(":"))
        except ValueError:
            raise PrinterSettingError(f"usb setting needs vendor:product ids, not {target!r}") from None
        return UsbTransport(vendor, product, **kwargs)
    return FileTransport(target, **kwargs)
