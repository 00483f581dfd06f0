"""Open a report.html in a real headless browser (Debian's chromium) and check it.

``python scripts/check_report_in_browser.py REPORT.html [--widths 1400 800] [--screenshot-dir DIR]``

Works for the calibration report (``bdl report``) and the campaign report
(``discovery-loop report``). At every window width it checks that the page loads offline,
that every embedded image decodes (``naturalWidth > 0``), that the verdict section is there,
and that no text overflows its box: the page's scroll width fits the viewport, and no element
is wider than the page (wide tables scroll inside their own box). Optionally saves one
screenshot per width to look at (``report_1400px.png`` ...; ``--small`` also writes
downscaled copies small enough to commit). Exit code 0 when all checks pass. Install the
browser with ``apt-get install chromium``.
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
  const vw = document.documentElement.clientWidth;
  const wide = [];
  for (const el of document.querySelectorAll('body *')) {
    if (el.closest('.scroll') || el.id === 'probe') continue;   // boxes that scroll on purpose
    const r = el.getBoundingClientRect();
    if (r.width > 0 && (r.right > vw + 1 || el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX === 'visible'
                        && el.clientWidth > 0 && !['IMG', 'svg'].includes(el.tagName)))
      wide.push(el.tagName.toLowerCase() + (el.className ? '.' + el.className : '') + ': ' + (el.textContent || '').trim().slice(0, 60));
  }
  const info = {images: imgs.length, decoded: imgs.filter(i => i.complete && i.naturalWidth > 0).length,
                verdict: !!document.querySelector('.verdict'), title: document.title,
                viewport: vw, scroll_width: document.documentElement.scrollWidth,
                overflowing: wide.slice(0, 10), n_overflowing: wide.length,
                height: document.documentElement.scrollHeight};
  const pre = document.createElement('pre'); pre.id = 'probe'; pre.textContent = JSON.stringify(info);
  document.body.appendChild(pre);
});</script>"""


def find_browser() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _probe(common: list[str], page: Path, width: int, timeout: float) -> dict | None:
    dom = subprocess.run([*common, f"--window-size={width},1000", "--virtual-time-budget=10000", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=timeout).stdout
    match = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    if not match:
        return None
    text = match.group(1)
    for entity, char in (("&quot;", '"'), ("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&")):
        text = text.replace(entity, char)
    return json.loads(text)


def check(html_path: str | Path, screenshot: str | Path | None = None, timeout: float = 90,
          widths: tuple[int, ...] = (1400, 800), screenshot_dir: str | Path | None = None) -> dict:
    """Check a report at every width; ``info["ok"]`` is True when every check passes at every width.

    ``screenshot`` (one file, first width) is kept for the older calling form;
    ``screenshot_dir`` gets ``<stem>_<width>px.png`` per width.
    """
    browser = find_browser()
    if browser is None:
        raise RuntimeError("no chromium found; install it with `apt-get install chromium`.")
    html_path = Path(html_path).resolve()
    per_width: dict[str, dict] = {}
    shots: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        probe_page = Path(tmp) / "probe.html"
        probe_page.write_text(html_path.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
        common = [browser, *FLAGS, f"--user-data-dir={tmp}/profile"]
        for i, width in enumerate(widths):
            info = _probe(common, probe_page, width, timeout)
            if info is None:
                per_width[str(width)] = {"ok": False, "error": "the page did not load (no probe result)"}
                continue
            info["ok"] = (info["images"] > 0 and info["decoded"] == info["images"] and info["verdict"]
                          and info["scroll_width"] <= info["viewport"] and info["n_overflowing"] == 0)
            per_width[str(width)] = info
            targets = []
            if screenshot and i == 0:
                targets.append(Path(screenshot).resolve())
            if screenshot_dir:
                Path(screenshot_dir).mkdir(parents=True, exist_ok=True)
                targets.append(Path(screenshot_dir).resolve() / f"{html_path.stem}_{width}px.png")
            for target in targets:
                height = min(int(info.get("height", 2400)) + 40, 16000)
                subprocess.run([*common, "--hide-scrollbars", f"--window-size={width},{height}", f"--screenshot={target}",
                                html_path.as_uri()], capture_output=True, timeout=timeout)
                shots.append(str(target))
    first = next(iter(per_width.values()), {})
    return {"ok": bool(per_width) and all(v.get("ok") for v in per_width.values()), "widths": per_width,
            "images": first.get("images"), "decoded": first.get("decoded"), "verdict": first.get("verdict"),
            "title": first.get("title"), "screenshots": shots}


def shrink(png: str | Path, out: str | Path, width: int = 700) -> Path:
    """A downscaled copy of a screenshot (small enough to commit)."""
    from PIL import Image

    with Image.open(png) as im:
        h = round(im.height * width / im.width)
        small = im.convert("RGB").resize((width, h), Image.LANCZOS).quantize(colors=128)
        small.save(out, optimize=True)
    return Path(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("html")
    parser.add_argument("--screenshot", default=None, help="one screenshot at the first width")
    parser.add_argument("--screenshot-dir", default=None, help="one screenshot per width into this folder")
    parser.add_argument("--small", action="store_true", help="also write downscaled *_small.png copies")
    parser.add_argument("--widths", type=int, nargs="+", default=[1400, 800])
    args = parser.parse_args()
    info = check(args.html, args.screenshot, widths=tuple(args.widths), screenshot_dir=args.screenshot_dir)
    if args.small:
        info["small"] = [str(shrink(p, Path(p).with_name(Path(p).stem + "_small.png"))) for p in info["screenshots"]]
    print(json.dumps(info, indent=1))
    return 0 if info["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
