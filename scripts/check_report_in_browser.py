"""Open a report.html in a real headless browser (Debian's chromium) and check it.

``python scripts/check_report_in_browser.py runs/bandgap/report.html [--screenshot out.png]``

Checks that the page loads offline, that every embedded image decodes (naturalWidth > 0), and
that the verdict section is there; optionally saves a screenshot to look at. Exit code 0 when
all checks pass. Install the browser with ``apt-get install chromium``.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

PROBE = """<script>window.addEventListener('load', () => {
  const imgs = [...document.images];
  const info = {images: imgs.length, decoded: imgs.filter(i => i.complete && i.naturalWidth > 0).length,
                verdict: !!document.querySelector('.verdict'), title: document.title};
  const pre = document.createElement('pre'); pre.id = 'probe'; pre.textContent = JSON.stringify(info);
  document.body.appendChild(pre);
});</script>"""


def find_browser() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def check(html_path: str | Path, screenshot: str | Path | None = None, timeout: float = 60) -> dict:
    browser = find_browser()
    if browser is None:
        raise RuntimeError("no chromium found; install it with `apt-get install chromium`.")
    html_path = Path(html_path).resolve()
    with tempfile.TemporaryDirectory() as tmp:
        probe_page = Path(tmp) / "probe.html"
        probe_page.write_text(html_path.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
        common = [browser, *FLAGS, f"--user-data-dir={tmp}/profile"]
        dom = subprocess.run([*common, "--virtual-time-budget=10000", "--dump-dom", probe_page.as_uri()],
                             capture_output=True, text=True, timeout=timeout).stdout
        match = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
        info = json.loads(match.group(1).replace("&quot;", '"')) if match else {"images": None}
        if screenshot:
            subprocess.run([*common, "--hide-scrollbars", "--window-size=1280,2400", f"--screenshot={Path(screenshot).resolve()}",
                            html_path.as_uri()], capture_output=True, timeout=timeout)
    info["ok"] = bool(match) and info["images"] > 0 and info["decoded"] == info["images"] and info["verdict"]
    return info


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("html")
    parser.add_argument("--screenshot", default=None)
    args = parser.parse_args()
    info = check(args.html, args.screenshot)
    print(json.dumps(info))
    return 0 if info["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
