"""The web console for center staff and specialists (pages come with the console issue)."""
from flask import Blueprint, redirect

blp = Blueprint("console", __name__)


@blp.route("/")
def index():
    return redirect("/docs")
