"""Transports against a pseudo-terminal (serial) and a local TCP listener, with status answers."""

import socket
import time

import pytest

from printing import (CoverOpen, FileTransport, PaperOut, PrinterError, PrinterOffline, PrinterSettingError,
                      SerialTransport, TcpTransport, UsbTransport, open_transport, transports)

JOB = "检验报告单\n".encode("gb18030") * 50


def test_setting_strings_choose_the_transport():
    serial = open_transport("serial:/dev/rfcomm0?baudrate=19200&timeout=3&dsrdtr=1")
    assert isinstance(serial, SerialTransport)
    assert (serial.port, serial.baudrate, serial.timeout) == ("/dev/rfcomm0", 19200, 3.0)
    assert serial.flow == {"rtscts": False, "dsrdtr": True, "xonxoff": False}
    tcp = open_transport("tcp:192.168.1.50:9100")
    assert isinstance(tcp, TcpTransport) and (tcp.host, tcp.port) == ("192.168.1.50", 9100)
    assert open_transport("tcp:printer.local").port == 9100
    assert open_transport("tcp:[fe80::1]:9101").host == "fe80::1"
    usb = open_transport("usb:0x0416:0x5011")
    assert isinstance(usb, UsbTransport) and (usb.vendor_id, usb.product_id) == (0x0416, 0x5011)
    assert isinstance(open_transport("file:/tmp/out.bin"), FileTransport)


@pytest.mark.parametrize("setting", ["", "bluetooth:AA:BB", "serial:", "tcp:host:port", "usb:0416",
                                     "serial:/dev/rfcomm0?speed=9600", "tcp:h?status=maybe"])
def test_bad_setting_strings_raise_a_setting_error_with_a_chinese_message(setting):
    with pytest.raises(PrinterSettingError) as err:
        open_transport(setting)
    assert "打印机设置有误" in str(err.value)


def test_serial_job_reaches_the_printer_after_a_status_check(pty_printer):
    path, printer = pty_printer()
    status = open_transport(f"serial:{path}?baudrate=9600").send(JOB)
    assert status is not None and not status.paper_out and not status.offline
    received = printer.wait_for(len(JOB) + 6)
    assert printer.queries[:3] == [1, 2, 4]
    assert received.endswith(JOB)


@pytest.mark.parametrize("situation, error, words", [
    ("paper_out", PaperOut, "没纸"),
    ("cover_open", CoverOpen, "盖子"),
    ("cutter_jam", PrinterError, "故障"),
])
def test_serial_status_maps_to_typed_errors_and_nothing_is_printed(pty_printer, printer_status, situation,
                                                                 error, words):
    path, printer = pty_printer(printer_status[situation])
    with pytest.raises(error) as err:
        open_transport(f"serial:{path}").send(JOB)
    assert words in str(err.value)
    time.sleep(0.1)
    assert JOB not in bytes(printer.received)


@pytest.fixture
def short_status_wait(monkeypatch):
    """A silent printer is waited for the whole answer window; a tenth of it shows the same decision."""
    monkeypatch.setattr(transports, "STATUS_ANSWER_WAIT", transports.STATUS_ANSWER_WAIT / 10)


def test_silent_printer_is_printed_to_when_status_is_auto(pty_printer, short_status_wait):
    path, printer = pty_printer(status=None)  # many portable printers never answer DLE EOT
    started = time.monotonic()
    assert open_transport(f"serial:{path}").send(JOB) is None
    assert time.monotonic() - started < 2
    assert printer.wait_for(len(JOB) + 3).endswith(JOB)
    assert printer.queries == [1]  # one question, one window waited out, then the job: not one per status


def test_silent_printer_is_offline_when_status_is_required(pty_printer, short_status_wait):
    path, printer = pty_printer(status=None)
    with pytest.raises(PrinterOffline) as err:
        open_transport(f"serial:{path}?status=required").send(JOB)
    assert "连接不上打印机" in str(err.value)


def test_status_off_sends_no_query(pty_printer):
    path, printer = pty_printer()
    open_transport(f"serial:{path}?status=off").send(JOB)
    assert printer.wait_for(len(JOB)) == JOB and printer.queries == []


def test_missing_serial_device_is_offline():
    with pytest.raises(PrinterOffline) as err:
        open_transport("serial:/dev/rfcomm-does-not-exist").send(JOB)
    assert err.value.retryable and "rfcomm-does-not-exist" in err.value.detail


def test_tcp_job_reaches_the_printer(tcp_printer):
    port, sides = tcp_printer()
    status = open_transport(f"tcp:127.0.0.1:{port}").send(JOB)
    assert status is not None and not status.cover_open
    deadline = time.monotonic() + 5
    while not sides and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sides[0].wait_for(len(JOB) + 9).endswith(JOB)


def test_tcp_paper_out(tcp_printer, printer_status):
    port, _ = tcp_printer(printer_status["paper_out"])
    with pytest.raises(PaperOut):
        open_transport(f"tcp:127.0.0.1:{port}").send(JOB)


def test_tcp_nobody_listening_is_offline():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # the port is now closed: connection refused
    with pytest.raises(PrinterOffline):
        open_transport(f"tcp:127.0.0.1:{port}?timeout=1").send(JOB)


def test_file_transport_appends_jobs(tmp_path):
    path = tmp_path / "out.bin"
    transport = open_transport(f"file:{path}")
    transport.send(b"one")
    transport.send(b"two")
    assert path.read_bytes() == b"onetwo"


def test_file_in_missing_folder_is_offline(tmp_path):
    with pytest.raises(PrinterOffline):
        open_transport(f"file:{tmp_path}/no/such/dir/out.bin").send(b"x")


def test_usb_without_pyusb_or_device_fails_in_words(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_usb(name, *args, **kwargs):
        if name == "usb" or name.startswith("usb."):
            raise ImportError("no pyusb")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_usb)
    with pytest.raises(PrinterSettingError) as err:
        open_transport("usb:0x0416:0x5011").send(b"x")
    assert "pyusb" in err.value.detail
