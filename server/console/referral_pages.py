"""The referral pages of the console: the specialists' inbox and case page, the center's referrals page.

A blueprint of its own beside the console's (same templates folder, the console's static files), so the
referral pages live in their files. Like every console page they hold no data: referrals.js calls the API.
"""
from flask import Blueprint, render_template

blp = Blueprint("referral_console", __name__, url_prefix="/console/referrals", template_folder="templates")


@blp.route("")
def inbox():
    """A specialist's inbox: their cases and their pool's, by urgency and deadline, overdue ones marked."""
    return render_template("console/referral_inbox.html")


@blp.route("/center")
def center():
    """Center staff (and admin): open and overdue referrals, the loop's metrics with charts, the XLSX."""
    return render_template("console/referral_center.html")


@blp.route("/<referral_id>")
def case(referral_id):
    """One case: the resident's summary, trends, lab reports, the thread, and the specialist's actions."""
    return render_template("console/referral_case.html")
