#!/usr/bin/env bash
# CI: the operator's path. Build the wheel, install it into a fresh venv OUTSIDE the source tree, and run
# `gpo migrate`, `gpo demo`, `gpo serve` (gunicorn; /healthz and /readyz answered) and `gpo mllp` (an HL7
# message acknowledged) from an empty folder, so nothing can come from the checkout. A database URL may be
# given as $1 (PostgreSQL); the default is a SQLite file in the work folder.
set -euo pipefail
SRC="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-python3.11}"
WORK="$(mktemp -d /tmp/gpo-install.XXXXXX)"
PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() { "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() {  # url, seconds
  for _ in $(seq 1 "$2"); do curl -fsS "$1" >/dev/null 2>&1 && return 0; sleep 1; done
  echo "check-install: $1 did not answer" >&2; return 1
}

echo "check-install: building the wheel"
"$PYTHON" -m pip wheel -q --no-deps -w "$WORK/dist" "$SRC"
"$PYTHON" -m venv "$WORK/venv"
"$WORK/venv/bin/python" -m pip install -q --upgrade pip
"$WORK/venv/bin/python" -m pip install -q "$(ls "$WORK"/dist/gp_outreach-*.whl)[postgres]"

cd "$WORK"   # an empty folder: nothing of the checkout is importable from here
export GPO_INSTANCE="$WORK/instance"
export DATABASE_URL="${1:-sqlite:///$WORK/instance/gpo.db}"
export JWT_SECRET_KEY="$("$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(48))')"
export SECRET_KEY="$JWT_SECRET_KEY"
GPO="$WORK/venv/bin/gpo"
"$WORK/venv/bin/python" -c 'import server, sys; sys.exit(0 if server.__file__.startswith(sys.prefix) else 1)' \
  || { echo "check-install: server imported from outside the venv" >&2; exit 1; }

"$GPO" migrate
"$GPO" demo
PORT="$(free_port)"
"$GPO" serve --port "$PORT" --workers 1 >"$WORK/serve.log" 2>&1 & PIDS+=($!)
wait_for "http://127.0.0.1:$PORT/healthz" 60
curl -fsS "http://127.0.0.1:$PORT/readyz" | grep -q '"ready"\|ok' || { echo "readyz failed" >&2; cat "$WORK/serve.log"; exit 1; }
TOKEN="$(curl -fsS -H 'Content-Type: application/json' -d '{"username":"clerk","password":"demo-pass-2026"}' \
  "http://127.0.0.1:$PORT/api/v1/auth/login" | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')"
curl -fsS -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/v1/teams" >/dev/null

# The MLLP listener for the demo's lab feed: one message in, its ACK out.
MPORT="$(free_port)"
"$GPO" mllp --port "$MPORT" --feed 1 >"$WORK/mllp.log" 2>&1 & PIDS+=($!)
"$WORK/venv/bin/python" - "$MPORT" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
msg = ("MSH|^~\\&|LIS|HOSP|GPO|CENTER|20261206080000||ORU^R01|CHK1|P|2.5\r"
       "PID|1||X1^^^HOSP^MR||测试^一||19600101|M\r"
       "OBR|1||R1|58410-2^CBC^LN|||20261206070000\r"
       "OBX|1|NM|718-7^Hemoglobin^LN||135|g/L|130-175|N|||F\r")
for _ in range(60):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        break
    except OSError:
        time.sleep(1)
else:
    sys.exit("check-install: the MLLP listener did not start")
s.sendall(b"\x0b" + msg.encode() + b"\x1c\r")
data = b""
while not data.endswith(b"\x1c\r"):
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
ack = data.decode(errors="replace")
assert "MSA|A" in ack, ack
print("check-install: MLLP ACK", ack.split("MSA|")[1].split("|")[0])
PY
echo "check-install: gpo migrate, demo, serve and mllp work from the wheel outside the source tree"
