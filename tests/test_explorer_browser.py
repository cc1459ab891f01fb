"""The explorer in a real browser: ``countysim explore`` served on 127.0.0.1, loaded in
headless Chromium driven over the DevTools protocol (marker ``browser``).

The page is a Solara app: its content arrives over a websocket after the HTML, so the
test polls the rendered text until the explorer's own labels are there (bounded), then
checks the charts (images of the figures), takes a screenshot, presses Step and waits
for the next month, and takes a second screenshot of the village grid; both are kept
under ``runs/browser/`` and printed. Skipped without chromium or the ``viz`` extra (failed
instead when ``COUNTYSIM_REQUIRE_BROWSER`` is set, as in CI); the server and the browser
are always killed. Run it with ``make test-browser``.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

pytest.importorskip("solara", reason="the viz extra is not installed (pip install -e '.[viz]')")
websockets_sync = pytest.importorskip("websockets.sync.client",
                                      reason="websockets (a solara-server dependency) missing")

from countysim.cli import explore_command  # noqa: E402

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
ARTEFACTS = REPO / "runs" / "browser"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
HEADLESS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--window-size=1400,1000"]
SERVER_WAIT = 90.0  # s: import of the app and the first model build
RENDER_WAIT = 90.0  # s: the page connects, the server renders the components
# Text that only the rendered app shows: the app bar, a lever with its value and unit in
# force (the headline), a chart title and the small-district switch.
EXPECTED = ("countysim explorer", "pilot_villages", "50 villages", "Urban placements YTD (A4)",
            "small district")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, deadline: float, proc: subprocess.Popen) -> None:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{url}: the process exited with status {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer within the bounded wait")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


class DevTools:
    """A minimal Chrome DevTools protocol client over one page's websocket."""

    def __init__(self, ws_url: str) -> None:
        self.ws = websockets_sync.connect(ws_url, max_size=64 * 2**20, open_timeout=10,
                                          legacy=True)
        self.next_id = 0

    def call(self, method: str, timeout: float = 20.0, **params) -> dict:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            message = json.loads(self.ws.recv(timeout=max(deadline - time.monotonic(), 0.1)))
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                return message["result"]

    def evaluate(self, expression: str):
        return self.call("Runtime.evaluate", expression=expression,
                         returnByValue=True)["result"].get("value")

    def close(self) -> None:
        self.ws.close()


def _colours(path: Path) -> int:
    """Distinct RGB colours of a PNG file (every fourth pixel of every fourth row)."""
    pixels = (matplotlib.image.imread(path)[::4, ::4, :3] * 255).astype(np.uint8)
    return len(np.unique(pixels.reshape(-1, 3), axis=0))


def test_explorer_renders_in_headless_chromium() -> None:
    if CHROMIUM is None:
        if os.environ.get("COUNTYSIM_REQUIRE_BROWSER"):
            pytest.fail("chromium is required here (COUNTYSIM_REQUIRE_BROWSER is set)")
        pytest.skip("chromium not installed (apt-get install chromium)")
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTEFACTS / "explorer.png"
    profile = tempfile.mkdtemp(prefix="countysim-chromium-")
    log = ARTEFACTS / "explorer_server.log"  # the server's output: no warning on load
    server_log = log.open("w", encoding="utf-8")
    server = subprocess.Popen(explore_command("127.0.0.1", port), cwd=REPO,
                              stdout=server_log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    browser = None
    try:
        _wait_http(url, time.monotonic() + SERVER_WAIT, server)
        browser = subprocess.Popen(
            [CHROMIUM, *HEADLESS, f"--user-data-dir={profile}", "--remote-debugging-port=0",
             "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        active = Path(profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (active.exists() and active.read_text().count("\n") >= 1):
            assert time.monotonic() < deadline, "chromium did not open its DevTools port"
            assert browser.poll() is None, f"chromium exited with {browser.returncode}"
            time.sleep(0.2)
        devtools_port = int(active.read_text().split()[0])
        _wait_http(f"http://127.0.0.1:{devtools_port}/json/version",
                   time.monotonic() + 20, browser)
        with urllib.request.urlopen(f"http://127.0.0.1:{devtools_port}/json/list",
                                    timeout=5) as response:
            pages = [t for t in json.load(response) if t["type"] == "page"]
        tools = DevTools(pages[0]["webSocketDebuggerUrl"])
        try:
            tools.call("Page.enable")
            tools.call("Page.navigate", url=url)
            deadline, text = time.monotonic() + RENDER_WAIT, ""
            while time.monotonic() < deadline:
                text = tools.evaluate("document.body ? document.body.innerText : ''") or ""
                images = tools.evaluate(
                    "[...document.querySelectorAll('img')].filter("
                    "i => i.complete && i.naturalWidth > 200).length") or 0
                if all(e in text for e in EXPECTED) and images >= 6:
                    break
                time.sleep(0.5)
            time.sleep(1.0)  # let the last images paint
            png = base64.b64decode(tools.call("Page.captureScreenshot", format="png")["data"])
            shot.write_bytes(png)
            print(f"\nexplorer screenshot: {shot}", file=sys.stderr)
            missing = [e for e in EXPECTED if e not in text]
            assert not missing, f"the page lacks {missing}; it shows: {text[:500]!r}"
            # Five indicator charts and the village grid, drawn as images by matplotlib.
            assert images >= 6, f"only {images} chart images rendered"
            assert "Traceback" not in text and "error in" not in text.lower()
            assert "PAGE 0" not in text.upper(), "the one-page tab bar shows 'Page 0'"
            # The app answers: Step advances the model a month (2025-06 -> 2025-07).
            assert "2025-06," in text, text[:300]
            tools.evaluate("[...document.querySelectorAll('button')].find("
                           "b => b.innerText.trim().toUpperCase() === 'STEP').click()")
            deadline = time.monotonic() + 30
            while "2025-07," not in text and time.monotonic() < deadline:
                time.sleep(0.3)
                text = tools.evaluate("document.body.innerText") or ""
            assert "2025-07," in text, "Step did not advance the model"
            # The village grid (the last chart) scrolled into view, in a second screenshot.
            tools.evaluate("[...document.querySelectorAll('img')].pop().scrollIntoView()")
            time.sleep(1.0)
            grid = ARTEFACTS / "explorer_villages.png"
            grid.write_bytes(base64.b64decode(
                tools.call("Page.captureScreenshot", format="png")["data"]))
            print(f"explorer screenshot: {grid}", file=sys.stderr)
        finally:
            tools.close()
        assert _colours(shot) > 50, "the screenshot is (nearly) uniform"
        output = log.read_text(encoding="utf-8")
        assert "Warning" not in output and "Traceback" not in output, output[-2000:]
    finally:
        if browser is not None:
            _stop(browser)
        _stop(server)
        server_log.close()
        shutil.rmtree(profile, ignore_errors=True)
