"""Receipts printed from stored records: the query arguments and the response (ESC/POS bytes or a PNG).

Each domain turns its record into one of `printing`'s documents (labs.services.printable, followups.slip);
this module renders it for the printer the caller names: paper width, Chinese as the printer's font or as a
picture, and the bytes or the preview a person can look at before printing.
"""
from __future__ import annotations

import io
from collections.abc import Callable

import marshmallow as ma
from flask import Response

import printing

from . import metrics
from .api import Schema
from .errors import DomainError

ESCPOS_TYPE = "application/octet-stream"
MODES = {"chinese": printing.ChineseMode.TEXT, "raster": printing.ChineseMode.RASTER}


class PrintArgs(Schema):
    """Which printer the bytes are for, or the preview."""

    width = ma.fields.Integer(load_default=58, validate=ma.validate.OneOf([58, 80]),
                              metadata={"description": "paper width in mm"})
    mode = ma.fields.String(load_default="chinese", validate=ma.validate.OneOf(list(MODES)), metadata={
        "description": "chinese: text in the printer's GB18030 font; raster: every line sent as a picture"})
    format = ma.fields.String(load_default="escpos", validate=ma.validate.OneOf(["escpos", "png"]), metadata={
        "description": "escpos: the bytes to send to the printer; png: the preview of those bytes"})


RESPONSES = {"200": {"description": "ESC/POS bytes (format=escpos) or the PNG preview (format=png)", "content": {
    ESCPOS_TYPE: {"schema": {"type": "string", "format": "binary"}},
    "image/png": {"schema": {"type": "string", "format": "binary"}}}}}


def response(layout: Callable[..., bytes], document, args: dict, name: str) -> Response:
    """The document rendered by `layout` for the printer `args` describe, as a download or a PNG."""
    metrics.print_job(layout.__name__, args["format"])
    width = printing.PaperWidth.from_mm(args["width"])
    settings = printing.PrinterSettings(width=width, mode=MODES[args["mode"]])
    try:
        data = layout(document, settings)
        if args["format"] == "png":
            out = io.BytesIO()
            printing.preview(data, width, settings.encoding).image.save(out, format="PNG")
            return Response(out.getvalue(), mimetype="image/png")
    except printing.FontMissing as err:  # raster mode and previews draw Chinese with a CJK font
        unavailable = DomainError(str(err), {"mode": ["no Chinese font on the server"]})
        unavailable.status = 503
        raise unavailable from None
    filename = f"{name}-{args['width']}mm-{args['mode']}.bin"
    return Response(data, mimetype=ESCPOS_TYPE, headers={"Content-Disposition": f'attachment; filename="{filename}"'})
