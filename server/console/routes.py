"""The web console for center staff: pages that call the same API the tablets use.

The pages hold no data of their own; they sign in through /api/v1/auth/login, keep the token in the
browser tab's sessionStorage (gone when the tab closes), and every rule and scope check stays in the API.
"""
from flask import Blueprint, redirect, render_template

blp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates",
                static_folder="static", static_url_path="/static")


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


@blp.route("/login")
def login():
    """Sign in."""
    return render_template("console/login.html")


def root():
    """The site root leads to the console."""
    return redirect("/console/")
