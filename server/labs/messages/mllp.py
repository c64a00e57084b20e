"""MLLP (Minimal Lower Layer Protocol) framing and a small TCP listener for HL7 v2 feeds.

A frame is 0x0B, the message bytes, 0x1C 0x0D. The listener knows nothing about storing: it calls an
injected handler(message_bytes) -> ack_bytes for each complete frame and sends the ACK back framed. A frame
over the size limit is not buffered, but it is answered (AR) in its turn, so the sender does not wait for
an ACK that never comes and resend the same message for ever.
"""
from __future__ import annotations

import logging
import socket
import socketserver
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

START_BLOCK = b"\x0b"
END_BLOCK = b"\x1c"
CARRIAGE_RETURN = b"\r"
# Of a frame over the limit, the bytes kept: its header (for the ACK) and enough to tell staff what it was.
OVERSIZED_HEAD_BYTES = 64 * 1024

log = logging.getLogger(__name__)


def encode_frame(message: bytes) -> bytes:
    """Wrap one HL7 message in an MLLP frame."""
    if START_BLOCK in message or END_BLOCK in message:
        # Neither byte occurs in ASCII/UTF-8/GB18030 HL7 text; finding one means the payload is not HL7.
        raise ValueError("message contains an MLLP framing byte (0x0B or 0x1C)")
    return START_BLOCK + message + END_BLOCK + CARRIAGE_RETURN


_OUTSIDE, _INSIDE, _SKIPPING = "outside", "inside", "skipping"


@dataclass(frozen=True)
class OversizedFrame:
    """A complete frame longer than the decoder's limit: its first bytes and its whole length."""

    head: bytes
    size: int


class MLLPDecoder:
    """Incremental MLLP decoder: feed it chunks as they arrive, get back the complete messages.

    Bytes outside a frame are skipped and counted (the CR after 0x1C is expected, not counted). A 0x0B
    inside a frame means the sender gave up on that frame and started again, so the partial frame is
    dropped. The end of a frame is 0x1C alone: waiting for the CR would stall on senders that omit it.
    A frame longer than max_frame_bytes is skipped up to its end block rather than buffered; with
    head_bytes > 0 its end then yields an OversizedFrame holding its first head_bytes, in the frame's turn.
    """

    def __init__(self, max_frame_bytes: int = 8 * 1024 * 1024, head_bytes: int = 0):
        self.max_frame_bytes = max_frame_bytes
        self.head_bytes = head_bytes
        self._head = b""  # of the frame being skipped
        self._skipped = 0  # its length so far
        self._frame = bytearray()
        self._state = _OUTSIDE
        self._just_ended = False  # the next byte may be the frame's trailing CR
        self.discarded_bytes = 0  # garbage between frames and the contents of dropped frames
        self.dropped_frames = 0  # restarted or oversized frames

    def feed(self, chunk: bytes) -> list[bytes | OversizedFrame]:
        """Consume a chunk; return the messages completed by it, in order (OversizedFrame only with
        head_bytes)."""
        return list(self._iter_messages(chunk))

    @property
    def buffered(self) -> int:
        """Bytes of an incomplete frame held so far."""
        return len(self._frame)

    def _iter_messages(self, chunk: bytes) -> Iterator[bytes | OversizedFrame]:
        pos, n = 0, len(chunk)
        while pos < n:
            if self._state == _OUTSIDE:
                start = chunk.find(START_BLOCK, pos)
                stop = n if start < 0 else start
                self._count_garbage(chunk[pos:stop])
                if start < 0:
                    return
                self._state, pos = _INSIDE, start + 1
                self._frame.clear()
                continue
            end = chunk.find(END_BLOCK, pos)
            restart = chunk.find(START_BLOCK, pos, n if end < 0 else end)
            if restart >= 0:
                if self._state == _INSIDE:
                    self._drop(len(self._frame) + restart - pos)
                else:
                    self.discarded_bytes += restart - pos
                self._state, pos = _INSIDE, restart + 1
                continue
            stop = n if end < 0 else end
            if self._state == _SKIPPING:
                self.discarded_bytes += stop - pos
                self._skipped += stop - pos
            elif len(self._frame) + stop - pos > self.max_frame_bytes:
                self._skipped = len(self._frame) + stop - pos
                self._head = (bytes(self._frame[:self.head_bytes])
                              + chunk[pos:pos + max(0, self.head_bytes - len(self._frame))])
                self._drop(self._skipped)
                self._state = _SKIPPING
            else:
                self._frame += chunk[pos:stop]
            if end < 0:
                return
            pos = end + 1
            self._just_ended = True
            if self._state == _INSIDE:
                message = bytes(self._frame)
                self._frame.clear()
                self._state = _OUTSIDE
                yield message
            elif self.head_bytes:
                self._state = _OUTSIDE
                yield OversizedFrame(self._head, self._skipped)
            self._state = _OUTSIDE

    def _count_garbage(self, data: bytes) -> None:
        if self._just_ended and data:
            self._just_ended = False
            if data[:1] == CARRIAGE_RETURN:
                data = data[1:]
        self.discarded_bytes += len(data)

    def _drop(self, size: int) -> None:
        self.dropped_frames += 1
        self.discarded_bytes += size
        self._frame.clear()


Handler = Callable[[bytes], bytes]


class _Connection(socketserver.BaseRequestHandler):
    server: MLLPListener

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(self.server.idle_timeout)
        decoder = MLLPDecoder(self.server.max_frame_bytes,
                              head_bytes=min(OVERSIZED_HEAD_BYTES, self.server.max_frame_bytes))
        self.server._track(sock, True)
        try:
            while True:
                try:
                    chunk = sock.recv(65536)
                except (TimeoutError, OSError):
                    return
                if not chunk:
                    return
                for message in decoder.feed(chunk):
                    ack = self.server.call_handler(message)
                    if ack:
                        sock.sendall(encode_frame(ack))
        finally:
            self.server._track(sock, False)


class MLLPListener(socketserver.ThreadingTCPServer):
    """TCP listener for MLLP feeds: one thread per connection, messages on a connection handled in order.

    The handler runs in the connection's thread, so it may block (database writes). If it raises, the
    sender gets an AE ACK (HL7 error 207) built from the message header, and the error is logged.
    A frame over max_frame_bytes goes to the handler's `oversized(head, size, limit) -> ack` if it has one (the
    storing handler keeps it as a rejection), else is answered here: AR built from the header in its head.
    """

    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(self, handler: Handler, host: str = "127.0.0.1", port: int = 0, *,
                 idle_timeout: float = 300.0, max_frame_bytes: int = 8 * 1024 * 1024):
        self.handler = handler
        self.idle_timeout = idle_timeout
        self.max_frame_bytes = max_frame_bytes
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        super().__init__((host, port), _Connection)

    @property
    def address(self) -> tuple[str, int]:
        """The (host, port) actually bound (port 0 asks the OS for a free one)."""
        return self.server_address[:2]

    def call_handler(self, message: bytes | OversizedFrame) -> bytes:
        """Run the injected handler; on an unexpected error, an AE ACK instead of a dropped connection."""
        oversized = getattr(self.handler, "oversized", None)
        try:
            if isinstance(message, OversizedFrame):
                log.warning("MLLP frame of %d bytes over the %d byte limit refused", message.size,
                            self.max_frame_bytes)
                if oversized is not None:
                    return oversized(message.head, message.size, self.max_frame_bytes)
                return _ack(message.head, "AR", oversized_reason(message.size, self.max_frame_bytes))
            return self.handler(message)
        except Exception:
            log.exception("MLLP handler failed")
            head = message.head if isinstance(message, OversizedFrame) else message
            return _ack(head, "AE", "internal error while storing the message")

    def start(self) -> MLLPListener:
        """Serve in a background thread; returns self."""
        # serve_forever looks at its stop flag once a poll: at the default half second, every stop (a deploy's,
        # a test's) waited that long; a tenth of a second costs ten idle wake-ups a second.
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="mllp-listener", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, close open connections and the listening socket."""
        self.shutdown()
        with self._lock:
            for sock in list(self._sockets):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        self.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> MLLPListener:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _track(self, sock: socket.socket, open_: bool) -> None:
        with self._lock:
            (self._sockets.add if open_ else self._sockets.discard)(sock)


def oversized_reason(size: int, limit: int) -> str:
    """The ACK text for a frame over the limit."""
    return f"message of {size} bytes is over the {limit} byte limit; not stored"


def _ack(head: bytes, code: str, reason: str) -> bytes:
    # Imported here so framing stays usable without the HL7 layer.
    from .hl7v2 import HL7MessageError, build_ack, generate_control_id, read_header

    error = HL7MessageError(reason, ack_code=code, error_code="207", header=read_header(head))
    return build_ack(error, code, control_id=generate_control_id())
