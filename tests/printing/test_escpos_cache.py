"""python-escpos's capability pickle, shared by the processes of one user (printing/escpos_cache.py)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENCODE = ("import os; from printing.escpos_cache import import_escpos; import_escpos().Dummy().text('x'); "
          "print(os.environ['ESCPOS_CAPABILITIES_PICKLE_DIR'] if 'ESCPOS_CAPABILITIES_PICKLE_DIR' in os.environ "
          "else '-')")


def _env(tmp_path: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "ESCPOS_CAPABILITIES_PICKLE_DIR"}
    env.update(TMPDIR=str(tmp_path), PYTHONPATH=str(ROOT))
    return env


def _start(tmp_path: Path, n: int) -> list[str]:
    """n processes started at once; what each said its pickle folder was."""
    procs = [subprocess.Popen([sys.executable, "-c", ENCODE], env=_env(tmp_path), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(n)]
    out = [p.communicate() for p in procs]
    assert [p.returncode for p in procs] == [0] * n, [err for _, err in out]
    return [o.strip() for o, _ in out]


def test_processes_starting_together_share_one_complete_pickle(tmp_path):
    shared = tmp_path / f"gpo-escpos-cache-{os.getuid()}"
    assert _start(tmp_path, 4) == [str(shared)] * 4
    assert [p.name for p in shared.iterdir()] == [f"{sys.version.split()[0]}.capabilities.pickle"]
    assert _start(tmp_path, 1) == [str(shared)]  # a later process reads it


def test_a_folder_others_may_write_to_is_not_used(tmp_path):
    shared = tmp_path / f"gpo-escpos-cache-{os.getuid()}"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)  # past the umask: anyone could put a pickle here
    assert _start(tmp_path, 1) == ["-"]
    assert list(shared.iterdir()) == []
