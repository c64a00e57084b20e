"""The print preview a screen shows: the very bytes that will print, rendered as the paper will look."""
from __future__ import annotations

import tempfile

from kivy.uix.image import Image

from printing import preview

from fieldapp import printouts


def preview_image(store, data: bytes) -> Image:
    """An Image of `data` on the configured printer's paper (a temporary PNG the Image loads)."""
    picture = preview(data, printouts.PrinterConfig.load(store).settings().width)
    path = tempfile.NamedTemporaryFile(suffix=".png", delete=False).name
    picture.save(path)
    image = Image(source=path, size_hint_y=None, fit_mode="contain")
    image.height = image.texture_size[1] if image.texture else 600
    return image
