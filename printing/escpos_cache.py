"""Where python-escpos keeps its printer capability database between processes.

escpos parses its capability file (~0.1 s of CPU) at import and pickles the result into
ESCPOS_CAPABILITIES_PICKLE_DIR or, when that is unset, into a new mkdtemp() folder at every import: a cache
no later process finds, and a folder left behind by each (every server worker, tablet start and receipt
subprocess). Here the pickle goes into one folder of the user's under the temporary directory. The first
process writes it into a folder of its own and moves it into place whole (os.replace), so a process starting
at the same moment reads no pickle or a complete one, never a half-written file. A pickle runs code when
loaded: the folder is used only if this user owns it and nobody else may write to it (the name is
predictable, and another account could make it first in a shared /tmp). escpos still makes one empty
folder at each import: its fallback mkdtemp() is called even when the variable is set (python-escpos 3.1).
The tablet took about 1 s longer to start without the cache (fieldapp/ui/boot.py had it until it moved
here, where every process that prints gets it); a server or test process ~0.13 s of CPU (0.22 against 0.09 s,
three processes one after the other)."""
from __future__ import annotations

import os
import platform
import shutil
import stat
import tempfile

ENV = "ESCPOS_CAPABILITIES_PICKLE_DIR"


def import_escpos():
    """escpos.printer, imported with the shared capability cache (unless ENV already says where)."""
    if ENV not in os.environ:
        _import_with_shared_cache()
    from escpos import printer
    return printer


def _import_with_shared_cache() -> None:
    shared = _own_folder(os.path.join(tempfile.gettempdir(), f"gpo-escpos-cache-{_user()}"))
    pickle_name = f"{platform.python_version()}.capabilities.pickle"
    if shared and os.path.exists(os.path.join(shared, pickle_name)):
        os.environ[ENV] = shared
        return
    own = tempfile.mkdtemp(dir=shared)  # the temporary directory itself when there is no shared folder
    os.environ[ENV] = own
    try:
        import escpos.capabilities  # noqa: F401  (writes the pickle into `own`)
        if shared:
            os.replace(os.path.join(own, pickle_name), os.path.join(shared, pickle_name))
    except OSError:
        pass  # only a cache: a later process writes it again
    finally:
        shutil.rmtree(own, ignore_errors=True)
        if shared:
            os.environ[ENV] = shared  # this process's subprocesses find the pickle
        else:
            del os.environ[ENV]


def _user() -> str:
    return str(os.getuid()) if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")


def _own_folder(path: str) -> str | None:
    """path, made if missing, when this user owns it and only this user may write to it; else None."""
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        st = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode) or st.st_mode & 0o022:
        return None
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        return None
    return path
