"""The pages a person sees at the end of the flow.

Self-contained HTML: no script, no third-party font, image or stylesheet
(RFC 9700 4.2.4: nothing on the callback page may receive the URL through a
Referer). The only inline style is allowed by its hash in the CSP.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from html import escape

_STYLE = """
:root{color-scheme:light;--ink:#050038;--muted:#4a4a68;--line:#e0e0eb;
--ok:#0b7a3e;--bad:#b42318;--accent:#4262ff}
*{box-sizing:border-box}
body{margin:0;min-height:100vh;display:flex;align-items:center;
justify-content:center;background:#f5f6fa;color:var(--ink);
font:16px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{width:min(34rem,calc(100% - 2rem));background:#fff;border:1px solid var(--line);
border-radius:16px;padding:2.25rem 2rem;box-shadow:0 8px 24px rgba(5,0,56,.08)}
.brand{display:flex;gap:.6rem;align-items:center;font-weight:600;color:var(--muted);
font-size:.9rem;margin-bottom:1.5rem}
.mark{width:1.6rem;height:1.6rem;border-radius:6px;background:#ffd02f;
display:inline-block}
.badge{display:inline-flex;align-items:center;justify-content:center;
width:2.75rem;height:2.75rem;border-radius:50%;font-size:1.4rem;font-weight:700;
margin-bottom:1rem}
.ok .badge{background:#e3f5ea;color:var(--ok)}
.bad .badge{background:#fde8e7;color:var(--bad)}
h1{font-size:1.5rem;line-height:1.25;margin:0 0 .75rem}
p{margin:0 0 1rem;color:var(--muted)}
main>:last-child{margin-bottom:0}
.ref{font-size:.875rem;border-top:1px solid var(--line);padding-top:1rem;
margin-top:1.5rem}
code{font:600 .875rem ui-monospace,SFMono-Regular,Menlo,monospace;color:var(--ink);
background:#f0f1f7;padding:.1rem .35rem;border-radius:4px}
a.button{display:inline-block;background:var(--accent);color:#fff;
text-decoration:none;font-weight:600;padding:.7rem 1.2rem;border-radius:8px}
a.button:focus-visible{outline:3px solid var(--ink);outline-offset:2px}
"""

STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; "
    f"style-src 'sha256-{STYLE_HASH}'; "
    "img-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

SECURITY_HEADERS: dict[str, str] = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Strict-Transport-Security": "max-age=31536000",
    "Cross-Origin-Opener-Policy": "same-origin",
}

PRODUCT = "Miro connection"


@dataclass(frozen=True)
class Page:
    status: int
    html: str


def _document(title: str, body: str, tone: str) -> str:
    return (
        "<!doctype html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n'
        f"<title>{escape(title)} · {PRODUCT}</title>\n"
        f"<style>{_STYLE}</style>\n</head>\n<body>\n"
        f'<main class="{tone}" aria-labelledby="title">\n'
        f'<div class="brand"><span class="mark" aria-hidden="true"></span>'
        f"{PRODUCT}</div>\n{body}</main>\n</body>\n</html>\n"
    )


def success_page() -> Page:
    body = (
        '<div class="badge" aria-hidden="true">&#10003;</div>\n'
        '<h1 id="title">Your Miro account is connected</h1>\n'
        "<p>The app can now work with your Miro boards. "
        "You can close this tab.</p>\n"
    )
    return Page(200, _document("Connected", body, "ok"))


def error_page(
    *, status: int, title: str, advice: str, reference: str, restart_url: str
) -> Page:
    body = (
        '<div class="badge" aria-hidden="true">!</div>\n'
        f'<h1 id="title">{escape(title)}</h1>\n'
        f"<p>{escape(advice)}</p>\n"
        f'<p><a class="button" href="{escape(restart_url)}">Start again</a></p>\n'
        '<p class="ref">If you contact support, quote reference '
        f"<code>{escape(reference)}</code>.</p>\n"
    )
    return Page(status, _document(title, body, "bad"))
