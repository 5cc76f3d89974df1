"""Screenshots of the pages a person sees: ``python -m tools.local.screenshots``.

Runs one install in Debian's headless chromium against the local stack and
writes ``docs/screenshots/success.png`` (after Allow) and
``docs/screenshots/error.png`` (the same callback reloaded: already used).
"""

from __future__ import annotations

import tools.local.layer_path  # noqa: F401 - before anything imports miro_oauth

# isort: split
import logging
import sys
from pathlib import Path

from playwright.sync_api import ViewportSize, sync_playwright

from tools.local.chromium import CHROMIUM, CHROMIUM_ARGS
from tools.local.front import Front
from tools.local.stack import running
from tools.local.template import ROOT

OUTPUT = ROOT / "docs" / "screenshots"
VIEWPORT: ViewportSize = {"width": 960, "height": 640}


def capture(output: Path = OUTPUT) -> list[Path]:
    output.mkdir(parents=True, exist_ok=True)
    success, error = output / "success.png", output / "error.png"
    front = Front()
    try:
        with running(redirect_uri=front.callback_url) as stack, sync_playwright() as pw:
            front.serve(stack)
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(front.install_url)
            page.get_by_role("button", name="Allow").click()
            page.wait_for_url("**/callback?**")
            page.screenshot(path=str(success))
            page.reload()
            page.screenshot(path=str(error))
            browser.close()
    finally:
        front.stop()
    return [success, error]


def main() -> int:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    for path in capture():
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
