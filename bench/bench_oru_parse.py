"""Throughput of the lab parsing layer on an 8-result ORU^R01 (not collected by pytest).

Usage: .venv/bin/python bench/bench_oru_parse.py [--seconds 3]
Prints messages/s for: parse_oru (UTF-8 and GBK-detected), parse_oru + build_ack, MLLP decoding, and
sequential MLLP round trips (frame -> parse -> ACK) over a loopback TCP connection.
"""
import argparse
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

import _smoke  # noqa: E402  (bench/ is on the path when a script runs)

from server.labs.hl7v2 import build_ack, parse_oru  # noqa: E402
from server.labs.mllp import MLLPDecoder, MLLPListener, encode_frame  # noqa: E402

ROWS = [
    ("WBC^白细胞", "6.5", "10\\S\\9/L", "3.5-9.5", "N"),
    ("RBC^红细胞", "4.10", "10\\S\\12/L", "男 4.3-5.8 女 3.8-5.1", "L"),
    ("HGB^血红蛋白", "118", "g/L", "男 130-175 女 115-150", "L~A"),
    ("PLT^血小板", "15", "10\\S\\9/L", "125-350", "LL"),
    ("GLU^葡萄糖", "7.8", "mmol/L", "3.9-6.1", "H"),
    ("K^钾", "6.8", "mmol/L", "3.5-5.5", "HH"),
    ("CREA^肌酐", "88", "umol/L", "57-111", "N"),
    ("EGFR^eGFR", "55", "mL/min/1.73m2", ">=60", "L"),
]


def eight_result_oru(encoding: str = "utf-8", cid: str = "BENCH-1") -> bytes:
    """An ORU^R01 with one OBR and 8 NM results, CR-separated, no MSH-18."""
    segments = [f"MSH|^~\\&|LIS|HOSP|GPO|CLINIC|20250302110000||ORU^R01|{cid}|P|2.5",
                "PID|1||55501^^^HOSP^MR~11010519491231002X^^^^ID||张三~ZHANG^SAN||19491231|M",
                "OBR|1|ORD-1|FIL-1|CHEM^生化^L|||20250302070000|||||||20250302073000|SER|||||||"
                "20250302105500|||F"]
    for n, (code, value, unit, ref, flag) in enumerate(ROWS, 1):
        segments.append(f"OBX|{n}|NM|{code}^L||{value}|{unit}|{ref}|{flag}|||F|||20250302100000")
    return ("\r".join(segments) + "\r").encode(encoding)


def rate(fn, seconds: float) -> tuple[float, int, float]:
    """(calls per wall second, calls, calls per CPU second of this process).

    The CPU figure is the steadier one on a shared machine: other processes do not slow it down.
    """
    n, start, cpu_start = 0, time.perf_counter(), time.process_time()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(100):
            fn()
        n += 100
    return n / elapsed, n, n / max(time.process_time() - cpu_start, 1e-9)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    seconds = _smoke.parse(parser, seconds=0.2).seconds
    utf8, gbk = eight_result_oru(), eight_result_oru("gbk")
    assert len(parse_oru(utf8).results) == 8 and parse_oru(gbk).encoding == "gb18030"

    per_s, n, cpu = rate(lambda: parse_oru(utf8), seconds)
    print(f"parse_oru, 8 results, UTF-8 ({len(utf8)} bytes): {per_s:,.0f} msg/s wall, "
          f"{cpu:,.0f} msg/CPU-s ({n} runs)")
    per_s, n, cpu = rate(lambda: parse_oru(gbk), seconds)
    print(f"parse_oru, 8 results, GBK detected ({len(gbk)} bytes): {per_s:,.0f} msg/s wall, "
          f"{cpu:,.0f} msg/CPU-s ({n} runs)")
    per_s, n, cpu = rate(lambda: build_ack(parse_oru(utf8), control_id="A"), seconds)
    print(f"parse_oru + build_ack: {per_s:,.0f} msg/s wall, {cpu:,.0f} msg/CPU-s ({n} runs)")

    stream = encode_frame(utf8) * 100

    def decode_100_frames() -> None:
        decoder = MLLPDecoder()
        got = sum(len(decoder.feed(stream[i:i + 4096])) for i in range(0, len(stream), 4096))
        assert got == 100

    per_s, n, cpu = rate(decode_100_frames, seconds)
    print(f"MLLPDecoder.feed, 4 KiB chunks: {per_s * 100:,.0f} frames/s wall, {cpu * 100:,.0f} frames/CPU-s")

    def handler(raw: bytes) -> bytes:
        return build_ack(parse_oru(raw), control_id="A")

    with MLLPListener(handler, "127.0.0.1", 0) as server:
        with socket.create_connection(server.address) as client:
            frame, acks = encode_frame(utf8), MLLPDecoder()

            def round_trip() -> None:
                client.sendall(frame)
                while not acks.feed(client.recv(4096)):
                    pass

            per_s, n, _ = rate(round_trip, seconds)
    # CPU time is split between this thread and the listener's, so only the wall rate means anything here.
    print(f"MLLP round trip over loopback TCP, one connection, sequential: {per_s:,.0f} msg/s wall "
          f"({n} runs)")


if __name__ == "__main__":
    main()
