"""A real headless browser for the picture tests: Debian's chromium, started per call with a fresh
profile, screenshots into a temporary folder (never the repository)."""
from __future__ import annotations

import html
import json
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--force-device-scale-factor=1"]

needs_browser = pytest.mark.skipif(
    CHROMIUM is None, reason="no headless browser: install Debian's chromium (`make browser`) to run picture checks")

# Measures what the browser really drew: every <text>'s box on screen, pairwise overlaps, the legend.
MEASURE = """
<script>
window.addEventListener('load', () => {
  const boxes = [];
  for (const t of document.querySelectorAll('svg text')) {
    const r = t.getBoundingClientRect();
    if (r.width > 0 && r.height > 0 && getComputedStyle(t).visibility !== 'hidden')
      boxes.push({text: t.textContent, cls: t.getAttribute('class') || '', x: r.left + scrollX, y: r.top + scrollY,
                  w: r.width, h: r.height, svg: [...document.querySelectorAll('svg')].indexOf(t.ownerSVGElement)});
  }
  const overlaps = [];
  for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
    const a = boxes[i], b = boxes[j];
    const ix = Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x), iy = Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y);
    if (a.svg === b.svg && ix > 1 && iy > 2) overlaps.push([a.text, b.text]);
  }
  const legends = [...document.querySelectorAll('svg .legend')].map(l => {
    const r = l.getBoundingClientRect(); return {x: r.left, y: r.top, w: r.width, h: r.height,
    texts: [...l.querySelectorAll('text')].map(t => t.textContent)}; });
  const out = {texts: boxes.length, overlaps: overlaps.slice(0, 20), overlap_count: overlaps.length,
               legends, viewport: [innerWidth, innerHeight], scripts_elsewhere: document.scripts.length - 1,
               counts: {}};
  for (const sel of (window.COUNT || [])) out.counts[sel] = document.querySelectorAll(sel).length;
  const pre = document.createElement('pre'); pre.id = 'mocktools-measure';
  pre.textContent = JSON.stringify(out); document.body.appendChild(pre);
});
</script>
"""


def run_chromium(tmp: Path, url: str, *args: str, timeout: float = 45) -> str:
    assert CHROMIUM is not None
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    cmd = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args, url]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                            start_new_session=True)  # its own process group: a hung browser goes whole
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    assert proc.returncode == 0, err[-2000:]
    return out


def screenshot(tmp: Path, page: Path, size: tuple[int, int], name: str) -> Path:
    out = tmp / f"{name}.png"
    run_chromium(tmp, page.as_uri(), f"--screenshot={out}", f"--window-size={size[0]},{size[1]}")
    assert out.exists() and out.stat().st_size > 0
    return out


def measure(tmp: Path, html_doc: str, size: tuple[int, int], count: list[str] | None = None) -> dict[str, Any]:
    """Open ``html_doc`` with the measuring script added; what the browser laid out, as a dict."""
    page = tmp / "measure.html"
    script = f"<script>window.COUNT = {json.dumps(count or [])};</script>" + MEASURE
    page.write_text(html_doc.replace("</body>", script + "</body>") if "</body>" in html_doc
                    else f"<!DOCTYPE html><html><body style='margin:0'>{html_doc}{script}</body></html>")
    dom = run_chromium(tmp, page.as_uri(), "--dump-dom", "--virtual-time-budget=5000",
                       f"--window-size={size[0]},{size[1]}")
    found = re.search(r'<pre id="mocktools-measure">(.*?)</pre>', dom, re.DOTALL)
    assert found, "the measuring script did not run: " + dom[-500:]
    return json.loads(html.unescape(found.group(1)))


def colour_pixels(png: Path, rgb: tuple[int, int, int], tolerance: int = 40) -> int:
    """How many pixels of the screenshot are close to ``rgb``."""
    from PIL import Image

    with Image.open(png) as img:
        colours: list[tuple[int, Any]] = img.convert("RGB").getcolors(maxcolors=1 << 24) or []
        return sum(n for n, p in colours if all(abs(int(p[i]) - rgb[i]) <= tolerance for i in range(3)))


def distinct_colours(png: Path) -> int:
    from PIL import Image

    with Image.open(png) as img:
        return len(img.convert("RGB").getcolors(maxcolors=1 << 20) or [])
