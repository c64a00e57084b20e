"""The web console for center staff: pages that call the same API the tablets use.

The pages hold no data of their own; they sign in through /api/v1/auth/login, keep the token in the
browser tab's sessionStorage (gone when the tab closes), and every rule and scope check stays in the API.
"""
import hashlib
import os
import stat
from functools import lru_cache

from flask import Blueprint, abort, redirect, render_template, request
from werkzeug.security import safe_join

FOREVER = 365 * 24 * 3600  # seconds a browser keeps a file asked for by its version


class _ConsoleBlueprint(Blueprint):
    def get_send_file_max_age(self, filename):
        # The pages link each file with its content's version (_versioned). Under that address the file never
        # changes, so the browser keeps it and a page load asks only for the page and its data (two requests
        # fewer a page: revalidating console.js and console.css cost the clerk two round trips, and Chromium
        # ~40 ms of CPU a load in the console tests). Any other address (no version, an old one) revalidates.
        asked = request.args.get("v")
        if asked is not None and asked == asset_version(filename):
            return FOREVER
        return super().get_send_file_max_age(filename)  # the app's setting: none, so revalidated


blp = _ConsoleBlueprint("console", __name__, url_prefix="/console", template_folder="templates",
                        static_folder="static", static_url_path="/static")


def asset_version(filename: str) -> str | None:
    """The version of a console static file: a digest of its content (None if there is no such file)."""
    path = safe_join(blp.static_folder, filename)
    try:
        found = os.stat(path) if path else None
    except OSError:
        return None
    if found is None or not stat.S_ISREG(found.st_mode):  # "." names the folder itself
        return None
    return _digest(path, found.st_ino, found.st_mtime_ns, found.st_ctime_ns, found.st_size)


@lru_cache(maxsize=64)
def _digest(path: str, *_identity) -> str:
    # Keyed by the file's inode, times and size too: a file replaced or edited under a running server gets a
    # new version (the change time is the kernel's: a copy that keeps the old modification time still moves
    # it).
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:16]


@blp.url_defaults
def _versioned(endpoint, values):
    if endpoint == "console.static" and "v" not in values:
        version = asset_version(values.get("filename", ""))
        if version:
            values["v"] = version


@blp.route("/")
def home():
    """Team loads, rebalancing and committee assignment."""
    return render_template("console/assignment.html")


@blp.route("/households")
def households():
    """Households of the center: filter, select, assign to a team."""
    return render_template("console/households.html")


@blp.route("/households/<household_id>")
def household(household_id):
    """One household: members, conditions, recent visits, lab reports, assignment history."""
    return render_template("console/household.html")


@blp.route("/residents")
def residents():
    """Find a resident by name, pinyin initials, ID number, phone or record number."""
    return render_template("console/residents.html")


@blp.route("/history")
def history():
    """Assignment batches, newest first, each with an undo."""
    return render_template("console/history.html")


@blp.route("/import")
def imports():
    """Upload a resident list: a dry run row by row, then the real run."""
    return render_template("console/import.html")


@blp.route("/indicators")
def indicators():
    """Management indicators per team and quarter, as tables and charts; the XLSX export."""
    return render_template("console/indicators.html")


@blp.route("/rejections")
def rejections():
    """Lab messages the server refused, kept with their bytes: the list and one message as received."""
    return render_template("console/rejections.html")


@blp.route("/devices")
def devices():
    """The tablet registry per team: last contact and sync, waiting changes, versions; retire or report lost."""
    return render_template("console/devices.html")


@blp.route("/audit")
def audit():
    """The access log (admin)."""
    return render_template("console/audit.html")


@blp.route("/users")
def users():
    """Accounts (admin): create, disable, reset a password; who is in which team."""
    return render_template("console/users.html")


@blp.route("/gp")
def gp():
    """Where a GP who signs in here is sent: their work is on the tablet."""
    return render_template("console/gp.html")


@blp.route("/labs")
def labs():
    """Lab messages the server could not match with certainty: file each under a resident, or dismiss it."""
    return render_template("console/labs.html")


# What a print preview can show: the record's kind in the address -> its title. The referral slip (issue 13,
# GET /api/v1/referrals/{id}/slip) gets its entry here and in console.js PRINTABLE when that endpoint lands.
PRINTABLE = {"lab-report": "检验报告单", "followup": "随访单"}


@blp.route("/print/<kind>/<record_id>")
def print_preview(kind, record_id):
    """The receipt of a stored record as it will print (58/80 mm, printer font or picture), and its bytes."""
    if kind not in PRINTABLE:
        abort(404)
    return render_template("console/print.html", title=PRINTABLE[kind])


@blp.route("/login")
def login():
    """Sign in."""
    return render_template("console/login.html")


def root():
    """The site root leads to the console."""
    return redirect("/console/")
