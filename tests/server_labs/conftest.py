"""Helpers for the lab storage tests: a hospital feed with its key, posting messages, residents to match."""
from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

# The team's shared HL7 samples (shared/samples/hl7), copied into the repo so a clone anywhere tests them.
SHARED_SAMPLES = Path(__file__).resolve().parents[1] / "labs" / "samples"
MESSAGES = Path(__file__).resolve().parents[1] / "labs" / "messages"
ROOT = Path(__file__).resolve().parents[2]
HL7 = "x-application/hl7-v2+er7"
# The patient of the messy fixtures (PID-3 ID number 11010519491231002X, 张三, born 1949-12-31).
ZHANG_SAN_ID = "11010519491231002X"


@pytest.fixture
def sample():
    """Read a shared sample message (bytes) by file name."""
    return lambda name: (SHARED_SAMPLES / name).read_bytes()


@pytest.fixture
def fixture_message():
    """Read one of tests/labs/messages' messy fixtures (bytes) by file name."""
    return lambda name: (MESSAGES / name).read_bytes()


@pytest.fixture
def feed(world, as_user):
    """A feed of the world's hospital serving center A, created through the admin API: (id, key)."""
    r = as_user("admin").post("/api/v1/labs/feeds", json={
        "hospital_id": world.hospital_id, "name": "市一医院 LIS", "center_ids": [world.centers["A"]]})
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    return body["id"], body["key"]


@pytest.fixture
def post_hl7(client, feed):
    """post_hl7(raw bytes[, key]) -> the response of POST /api/v1/labs/hl7."""
    def post(raw: bytes, key: str | None = None, content_type: str = HL7):
        return client.post("/api/v1/labs/hl7", data=raw, content_type=content_type,
                           headers={"X-Lab-Feed-Key": key or feed[1]})
    return post


@pytest.fixture
def post_fhir(client, feed):
    """post_fhir(raw bytes) -> the response of POST /api/v1/labs/fhir."""
    def post(raw: bytes, key: str | None = None):
        return client.post("/api/v1/labs/fhir", data=raw, content_type="application/fhir+json",
                           headers={"X-Lab-Feed-Key": key or feed[1]})
    return post


@pytest.fixture
def add_resident(world, session):
    """add_resident(team key 'A1', name, sex '1'/'2', birth, id_number=None) -> resident id (through the service)."""
    from server.auth.models import User
    from server.households import services as hh
    from server.scope import Actor

    def add(key: str, name: str, sex: str, birth: dt.date, id_number: str | None = None) -> str:
        admin = Actor.of(session.get(User, world.users["admin"]))
        res = hh.create_resident(session, admin, {"household_id": world.households[f"{key}-0"], "name": name,
                                                  "sex": sex, "birth_date": birth, "id_number": id_number})
        session.commit()
        return res.id
    return add


@pytest.fixture
def zhang_san(add_resident):
    """张三 of team A1 with the fixtures' ID number (its sex digit says female, so the file says 2)."""
    return add_resident("A1", "张三", "2", dt.date(1949, 12, 31), ZHANG_SAN_ID)


def msa(ack: bytes, encoding: str = "utf-8") -> list[str]:
    """The MSA fields of an ACK."""
    for seg in ack.decode(encoding).split("\r"):
        if seg.startswith("MSA|"):
            return seg.split("|")
    raise AssertionError(f"no MSA in {ack!r}")


@pytest.fixture
def ack_fields():
    """ack_fields(ack bytes) -> MSA fields."""
    return msa


def oru(control_id: str, *, pid: str, obr: str, obx: list[str], facility: str = "HOSP_T") -> bytes:
    """A small ORU^R01 for matching and correction cases (UTF-8, CR-separated)."""
    segs = [f"MSH|^~\\&|LIS|{facility}|GPO|CLINIC|20250302110000||ORU^R01^ORU_R01|{control_id}|P|2.5.1"
            "|||||CHN|UNICODE UTF-8", pid, obr, *obx]
    return ("\r".join(segs) + "\r").encode()


@pytest.fixture
def make_oru():
    """make_oru(control_id, pid=..., obr=..., obx=[...]) -> bytes."""
    return oru


@pytest.fixture
def manage_command(db_url):
    """Start `python -m server.manage <args...> --port P` on a free port against the test database, wait until
    it accepts connections, return P; stopped (SIGTERM, then kill) when the test ends. `.together(args1,
    args2, ...)` starts several at once and returns their ports."""
    procs: list[subprocess.Popen] = []

    def launch(args, stop_timeout):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        proc = subprocess.Popen([sys.executable, "-m", "server.manage", *args, "--port", str(port)], cwd=ROOT,
                                env={**os.environ, "DATABASE_URL": db_url},
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        proc.stop_timeout = stop_timeout
        procs.append(proc)
        return proc, port

    def accepting(proc, port, args) -> int:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return port
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    proc.kill()
                    raise AssertionError(f"{args[0]} did not start: {proc.communicate()}")
                time.sleep(0.05)

    def start(*args: str, stop_timeout: float = 20) -> int:
        return accepting(*launch(args, stop_timeout), args)

    def start_together(*commands: tuple[str, ...], stop_timeout: float = 20) -> list[int]:
        """Several commands started at once (each takes ~1 s to import the app), then waited for; their ports."""
        launched = [launch(args, stop_timeout) for args in commands]
        return [accepting(proc, port, args) for (proc, port), args in zip(launched, commands)]

    start.together = start_together
    yield start
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(timeout=proc.stop_timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
