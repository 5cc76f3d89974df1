"""Debian's chromium, as the browser tests and the screenshots launch it.

Playwright downloads no browser here. Without the background-networking
flags chromium keeps trying hosts this machine cannot reach.
"""

from __future__ import annotations

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
