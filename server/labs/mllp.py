"""MLLP (Minimal Lower Layer Protocol) framing and a small TCP listener for HL7 v2 feeds.

A frame is 0x0B, the message bytes, 0x1C 0x0D. The listener knows nothing about storing: it calls an
injected handler(message_bytes) -> ack_bytes for each complete frame and sends the ACK back framed.
"""
from __future__ import annotations

import logging
import socket
import socketserver
import threading
from collections.abc import Callable, Iterator

START_BLOCK = b"\x0b"
END_BLOCK = b"\x1c"
CARRIAGE_RETURN = b"\r"

log = logging.getLogger(__name__)


def encode_frame(message: bytes) -> bytes:
    """Wrap one HL7 message in an MLLP frame."""
    if START_BLOCK in message or END_BLOCK in message:
        # Neither byte occurs in ASCII/UTF-8/GB18030 HL7 text; finding one means the payload is not HL7.
        raise ValueError("message contains an MLLP framing byte (0x0B or 0x1C)")
    return START_BLOCK + message + END_BLOCK + CARRIAGE_RETURN


_OUTSIDE, _INSIDE, _SKIPPING = "outside", "inside", "skipping"


class MLLPDecoder:
    """Incremental MLLP decoder: feed it chunks as they arrive, get back the complete messages.

    Bytes outside a frame are skipped and counted (the CR after 0x1C is expected, not counted). A 0x0B
    inside a frame means the sender gave up on that frame and started again, so the partial frame is
    dropped. The end of a frame is 0x1C alone: waiting for the CR would stall on senders that omit it.
    A frame longer than max_frame_bytes is skipped up to its end block rather than buffered.
    """

    def __init__(self, max_frame_bytes: int = 8 * 1024 * 1024):
        self.max_frame_bytes = max_frame_bytes
        self._frame = bytearray()
        self._state = _OUTSIDE
        self._just_ended = False  # the next byte may be the frame's trailing CR
        self.discarded_bytes = 0  # garbage between frames and the contents of dropped frames
        self.dropped_frames = 0  # restarted or oversized frames

    def feed(self, chunk: bytes) -> list[bytes]:
        """Consume a chunk; return the messages completed by it, in order."""
        return list(self._iter_messages(chunk))

    @property
    def buffered(self) -> int:
        """Bytes of an incomplete frame held so far."""
        return len(self._frame)

    def _iter_messages(self, chunk: bytes) -> Iterator[bytes]:
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
            elif len(self._frame) + stop - pos > self.max_frame_bytes:
                self._drop(len(self._frame) + stop - pos)
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
        decoder = MLLPDecoder(self.server.max_frame_bytes)
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

    def call_handler(self, message: bytes) -> bytes:
        """Run the injected handler; on an unexpected error, an AE ACK instead of a dropped connection."""
        try:
            return self.handler(message)
        except Exception:
            log.exception("MLLP handler failed")
            # Imported here so framing stays usable without the HL7 layer.
            from .hl7v2 import HL7MessageError, build_ack, generate_control_id, read_header

            header = read_header(message)
            error = HL7MessageError("internal error while storing the message", error_code="207",
                                    header=header)
            return build_ack(error, "AE", control_id=generate_control_id())

    def start(self) -> MLLPListener:
        """Serve in a background thread; returns self."""
        self._thread = threading.Thread(target=self.serve_forever, name="mllp-listener", daemon=True)
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
