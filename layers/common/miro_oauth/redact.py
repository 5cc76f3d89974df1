"""Keep codes, tokens and secrets out of anything that is logged or shown."""

from __future__ import annotations

import re

# Miro codes and tokens start with a base64 region marker ("eyJ..."); any long
# run of token characters is treated the same way, whatever its prefix.
_TOKEN_LIKE = re.compile(r"[A-Za-z0-9_\-+/=.~]{24,}")
MAX_TEXT = 300


def redact(text: str) -> str:
    """Provider text made safe for a log line: token-like runs removed, cut short."""
    cleaned = _TOKEN_LIKE.sub("[redacted]", text)
    cleaned = "".join(ch if ch.isprintable() else " " for ch in cleaned)
    if len(cleaned) > MAX_TEXT:
        cleaned = cleaned[:MAX_TEXT] + "…"
    return cleaned
