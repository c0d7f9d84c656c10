"""A QR code of a link, as a PNG a phone camera can read off a screen."""

from __future__ import annotations

import io

import segno


def qr_png(url: str) -> bytes:
    """Medium error correction, 8 px modules and the standard 4-module quiet zone."""
    buf = io.BytesIO()
    segno.make(url, error="m", micro=False).save(buf, kind="png", scale=8, border=4)
    return buf.getvalue()
