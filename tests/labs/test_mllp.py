"""MLLP framing (with hypothesis fuzzing) and the TCP listener, exercised over a real socket on 127.0.0.1."""
import socket
import threading
import time

import hl7
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.labs.messages.hl7v2 import HL7MessageError, build_ack, parse_oru, read_header
from server.labs.messages.mllp import MLLPDecoder, MLLPListener, OversizedFrame, encode_frame

payloads = st.binary(max_size=300).filter(lambda b: b"\x0b" not in b and b"\x1c" not in b)
garbage = st.binary(max_size=40).filter(lambda b: b"\x0b" not in b and b"\x1c" not in b)


def test_encode_frame_exact_bytes():
    assert encode_frame(b"MSH|^~\\&|A") == b"\x0bMSH|^~\\&|A\x1c\r"


@pytest.mark.parametrize("bad", [b"a\x1cb", b"\x0bMSH"])
def test_encode_frame_refuses_framing_bytes(bad):
    with pytest.raises(ValueError):
        encode_frame(bad)


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in zip(edges, edges[1:])]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(garbage, payloads), max_size=6), garbage,
       st.lists(st.integers(0, 10_000), max_size=20))
def test_decoder_recovers_every_frame_whatever_the_chunking(frames, tail, cuts):
    stream = b"".join(g + encode_frame(p) for g, p in frames) + tail
    decoder = MLLPDecoder()
    out = []
    for chunk in split(stream, cuts):
        out += decoder.feed(chunk)
    assert out == [p for _, p in frames]
    assert decoder.discarded_bytes == sum(len(g) for g, _ in frames) + len(tail)
    assert decoder.dropped_frames == 0 and decoder.buffered == 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.booleans(), payloads, payloads), max_size=5),
       st.lists(st.integers(0, 5000), max_size=10))
def test_abandoned_frames_are_dropped_and_the_next_frame_kept(frames, cuts):
    # A start block followed by bytes but no end block, then a real frame: the sender restarted.
    stream = b"".join((b"\x0b" + junk if abandoned else b"") + encode_frame(p)
                      for abandoned, junk, p in frames)
    decoder = MLLPDecoder()
    out = [m for chunk in split(stream, cuts) for m in decoder.feed(chunk)]
    assert out == [p for _, _, p in frames]
    assert decoder.dropped_frames == sum(1 for abandoned, _, _ in frames if abandoned)


def test_oversized_frame_is_skipped_without_buffering():
    decoder = MLLPDecoder(max_frame_bytes=10)
    stream = encode_frame(b"short") + encode_frame(b"x" * 50) + encode_frame(b"also ok")
    out = [m for i in range(0, len(stream), 7) for m in decoder.feed(stream[i:i + 7])]
    assert out == [b"short", b"also ok"]
    assert decoder.dropped_frames == 1 and decoder.buffered == 0


def test_oversized_frame_reported_with_its_first_bytes_when_asked():
    decoder = MLLPDecoder(max_frame_bytes=10, head_bytes=4)
    stream = encode_frame(b"short") + encode_frame(b"MSH|" + b"x" * 46) + encode_frame(b"also ok")
    out = [m for i in range(0, len(stream), 7) for m in decoder.feed(stream[i:i + 7])]
    assert out == [b"short", OversizedFrame(b"MSH|", 50), b"also ok"]  # in order: its ACK goes in turn
    assert decoder.dropped_frames == 1 and decoder.buffered == 0
    # Abandoned by the sender (a new start block) while skipped: nothing to answer.
    assert decoder.feed(b"\x0b" + b"y" * 20 + encode_frame(b"next")) == [b"next"]


def test_end_block_without_trailing_cr_still_ends_the_frame():
    decoder = MLLPDecoder()
    assert decoder.feed(b"\x0bMSH|a\x1c") == [b"MSH|a"]


# --- the listener over TCP ------------------------------------------------------------------------

ORU = ("MSH|^~\\&|LIS|HOSP|GPO|CLINIC|20250101120000||ORU^R01|{cid}|P|2.5\r"
       "PID|1||P1^^^^MR||张三||19800101|M\r"
       "OBR|1||F1|GLU^Glucose^L\r"
       "OBX|1|NM|GLU^Glucose^L||5.0|mmol/L|3.9-6.1|N|||F\r")


def storing_handler(received: list):
    """The shape of the handler the storing service will inject: parse, keep, ACK."""
    def handle(raw: bytes) -> bytes:
        try:
            msg = parse_oru(raw)
        except HL7MessageError as err:
            return build_ack(err, err.ack_code, control_id="ACK")
        received.append(msg)
        return build_ack(msg, "AA", control_id=f"ACK-{msg.control_id}")
    return handle


def read_acks(sock: socket.socket, count: int, timeout: float = 5.0) -> list[bytes]:
    decoder, acks = MLLPDecoder(), []
    sock.settimeout(timeout)
    while len(acks) < count:
        chunk = sock.recv(4096)
        if not chunk:
            break
        acks += decoder.feed(chunk)
    return acks


def msa(ack: bytes) -> tuple[str, str]:
    seg = hl7.parse(ack.decode()).segment("MSA")
    return str(seg[1]), str(seg[2])


@pytest.fixture
def listener():
    received: list = []
    server = MLLPListener(storing_handler(received), "127.0.0.1", 0).start()
    server.received = received
    yield server
    server.stop()


def test_listener_acks_frames_split_and_batched(listener):
    with socket.create_connection(listener.address, timeout=5) as client:
        two = encode_frame(ORU.format(cid="M1").encode()) + encode_frame(ORU.format(cid="M2").encode())
        client.sendall(b"noise" + two)  # garbage before, two frames in one write
        third = encode_frame(ORU.format(cid="M3").encode())
        client.sendall(third[:17])
        time.sleep(0.05)
        client.sendall(third[17:])
        client.sendall(encode_frame(b"not hl7 at all"))
        acks = read_acks(client, 4)
    assert [msa(a) for a in acks] == [("AA", "M1"), ("AA", "M2"), ("AA", "M3"), ("AR", "")]
    assert [m.control_id for m in listener.received] == ["M1", "M2", "M3"]
    assert listener.received[0].patient.name == "张三"


def test_listener_serves_clients_concurrently(listener):
    results = {}

    def client(n: int) -> None:
        with socket.create_connection(listener.address, timeout=5) as sock:
            for k in range(5):
                sock.sendall(encode_frame(ORU.format(cid=f"C{n}-{k}").encode()))
            results[n] = [msa(a)[1] for a in read_acks(sock, 5)]

    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert results == {n: [f"C{n}-{k}" for k in range(5)] for n in range(4)}
    assert len(listener.received) == 20


def test_handler_crash_becomes_an_ae_ack():
    def broken(raw: bytes) -> bytes:
        raise RuntimeError("database is down")

    with MLLPListener(broken, "127.0.0.1", 0) as server:
        with socket.create_connection(server.address, timeout=5) as client:
            client.sendall(encode_frame(ORU.format(cid="X1").encode()))
            (ack,) = read_acks(client, 1)
    parsed = hl7.parse(ack.decode())
    assert msa(ack) == ("AE", "X1")
    assert parsed.segment("ERR")(3)(1)(1)[0] == "207"


def test_oversized_frame_gets_an_ar_from_its_header():
    seen = []

    def handler(raw: bytes) -> bytes:
        raise AssertionError("an oversized frame is not a message to store")

    def oversized(head: bytes, size: int, limit: int) -> bytes:
        seen.append((head, size, limit))
        return build_ack(HL7MessageError("too large", ack_code="AR", header=read_header(head)), "AR",
                         control_id="ACK")

    big = ORU.format(cid="BIG1").encode() + b"OBX|2|TX|NOTE||" + b"x" * 5000 + b"\r"
    for kept in (None, oversized):  # with the handler's own answer, and without one
        handler.oversized = kept
        with MLLPListener(handler, "127.0.0.1", 0, max_frame_bytes=4096) as server:
            with socket.create_connection(server.address, timeout=5) as client:
                client.sendall(encode_frame(big) + encode_frame(big))  # the connection stays usable
                acks = read_acks(client, 2)
        assert [msa(a) for a in acks] == [("AR", "BIG1"), ("AR", "BIG1")]
        assert b"ERR|" in acks[0]
    assert seen == [(big[:4096], len(big), 4096)] * 2


def test_stop_closes_idle_connections():
    server = MLLPListener(storing_handler([]), "127.0.0.1", 0).start()
    client = socket.create_connection(server.address, timeout=5)
    time.sleep(0.05)
    server.stop()
    client.settimeout(5)
    assert client.recv(10) == b""  # the server side closed, the client is not left hanging
    client.close()
