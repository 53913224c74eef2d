"""Open a report in headless Chromium and say what a reader would see.

Used by the report's tests and by ``benchmarks/report_demo.py``; the standard library
only. Chromium is started with ``--remote-debugging-pipe`` and driven over the DevTools
protocol (JSON messages separated by NUL bytes on file descriptors 3 and 4): the page is
loaded from its file, and the run collects

* every console message and uncaught exception (``Runtime.consoleAPICalled``,
  ``Runtime.exceptionThrown``, ``Log.entryAdded``; a blocked load or a Content Security
  Policy violation is logged there too);
* the time from navigation to the ``load`` event;
* ``document.title``, the page's text, and for each ``<img>`` whether the browser decoded
  it (``complete`` and its natural size);
* a PNG screenshot of the whole page.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "chrome")


def find_chromium() -> str | None:
    """The path of a Chromium (or Chrome) executable on PATH, or None."""
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class Rendered:
    """What headless Chromium made of a page."""

    title: str
    text: str
    images: list[dict[str, Any]]
    console: list[dict[str, Any]] = field(default_factory=list)
    load_seconds: float = 0.0
    screenshot: bytes = b""

    @property
    def errors(self) -> list[str]:
        """Console errors, warnings about the page and uncaught exceptions, one line each."""
        return [f"{m['level']}: {m['text']}" for m in self.console
                if m["level"] in ("error", "warning", "exception", "assert")]


class _Pipe:
    """The DevTools protocol over Chromium's debugging pipe."""

    def __init__(self, proc: subprocess.Popen, to_browser: int, from_browser: int) -> None:
        self.proc = proc
        self.out = to_browser
        self.inp = from_browser
        self.buf = b""
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, params: dict[str, Any] | None = None,
             session: str | None = None) -> int:
        self.next_id += 1
        msg: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.out, json.dumps(msg).encode() + b"\0")
        return self.next_id

    def recv(self, deadline: float) -> dict[str, Any]:
        import select

        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.inp], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self.inp, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the debugging pipe")
            self.buf += chunk
        raw, self.buf = self.buf.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method: str, params: dict[str, Any] | None = None,
             session: str | None = None, timeout: float = 30.0) -> dict[str, Any]:
        i = self.send(method, params, session)
        deadline = time.monotonic() + timeout
        while True:
            m = self.recv(deadline)
            if m.get("id") == i:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)

    def wait_for(self, method: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        for k, m in enumerate(self.events):
            if m.get("method") == method:
                return self.events.pop(k)
        while True:
            m = self.recv(deadline)
            if m.get("method") == method:
                return m
            self.events.append(m)


# Chromium reads the protocol on fd 3 and writes on fd 4. A fresh interpreter puts the
# pipes there and becomes Chromium: this process's own fds 3 and 4 stay untouched, and no
# code runs between fork and exec. (When os.dup hands out 3 or 4 itself, os.dup2 onto the
# same number changes nothing and the fd stays close-on-exec: hence set_inheritable.)
_LAUNCH = ("import os, sys; r, w = int(sys.argv[1]), int(sys.argv[2]); "
           "a, b = os.dup(r), os.dup(w); os.dup2(a, 3); os.dup2(b, 4); "
           "os.set_inheritable(3, True); os.set_inheritable(4, True); "
           "[os.close(fd) for fd in {r, w} - {3, 4}]; os.execv(sys.argv[3], sys.argv[4:])")

_PROBE = """JSON.stringify({
  title: document.title,
  text: document.body ? document.body.innerText : "",
  height: Math.max(document.body ? document.body.scrollHeight : 0,
                   document.documentElement.scrollHeight),
  images: Array.from(document.images).map(i => ({
    alt: i.alt, complete: i.complete, width: i.naturalWidth, height: i.naturalHeight,
    src_head: i.getAttribute("src") ? i.getAttribute("src").slice(0, 22) : ""}))
})"""


def render(page: str | Path, *, chromium: str | None = None, width: int = 1280,
           max_height: int = 16000, timeout: float = 60.0) -> Rendered:
    """Load the HTML file ``page`` in headless Chromium (see the module docstring).

    Raises
    ------
    RuntimeError
        No Chromium, or it failed; TimeoutError when it does not answer in ``timeout``.
    """
    exe = chromium or find_chromium()
    if exe is None:
        raise RuntimeError("no chromium executable on PATH")
    url = Path(page).resolve().as_uri()
    with tempfile.TemporaryDirectory(prefix="stalwart-chromium-") as profile, \
            open(Path(profile) / "stderr.log", "w+b") as log:
        to_r, to_w = os.pipe()      # we write, Chromium reads (its fd 3)
        from_r, from_w = os.pipe()  # Chromium writes (its fd 4), we read

        args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--no-default-browser-check", "--disable-extensions", "--hide-scrollbars",
                "--remote-debugging-pipe", f"--user-data-dir={profile}",
                f"--window-size={width},900", "about:blank"]
        proc = subprocess.Popen(
            [sys.executable, "-S", "-c", _LAUNCH, str(to_r), str(from_w), exe, exe, *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
            pass_fds=(to_r, from_w))
        os.close(to_r)
        os.close(from_w)
        pipe = _Pipe(proc, to_w, from_r)
        try:
            return _drive(pipe, url, width, max_height, timeout)
        except (TimeoutError, RuntimeError, OSError) as exc:
            proc.kill()
            proc.wait(timeout=10)
            log.seek(0)
            err = log.read().decode(errors="replace")[-800:]
            raise RuntimeError(f"chromium failed on {page}: {exc}; stderr: {err}") from None
        finally:
            try:
                pipe.send("Browser.close")
            except OSError:
                pass
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
            os.close(to_w)
            os.close(from_r)


def _drive(pipe: _Pipe, url: str, width: int, max_height: int, timeout: float) -> Rendered:
    targets = pipe.call("Target.getTargets", timeout=timeout)["targetInfos"]
    target = next(t for t in targets if t["type"] == "page")
    session = pipe.call("Target.attachToTarget", {"targetId": target["targetId"],
                                                  "flatten": True})["sessionId"]
    for domain in ("Runtime", "Log", "Page"):
        pipe.call(f"{domain}.enable", session=session)
    start = time.monotonic()
    pipe.call("Page.navigate", {"url": url}, session=session, timeout=timeout)
    pipe.wait_for("Page.loadEventFired", timeout)
    load_seconds = time.monotonic() - start
    probe = pipe.call("Runtime.evaluate", {"expression": _PROBE, "returnByValue": True},
                      session=session)
    info = json.loads(probe["result"]["value"])
    height = max(600, min(max_height, int(info["height"])))
    pipe.call("Emulation.setDeviceMetricsOverride", {"width": width, "height": height,
                                                     "deviceScaleFactor": 1, "mobile": False},
              session=session)
    shot = pipe.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True},
                     session=session, timeout=timeout)
    console: list[dict[str, Any]] = []
    for m in pipe.events:
        method, params = m.get("method"), m.get("params", {})
        if method == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in params["args"])
            console.append({"level": params["type"], "text": text})
        elif method == "Runtime.exceptionThrown":
            d = params["exceptionDetails"]
            console.append({"level": "exception",
                            "text": d.get("exception", {}).get("description", d.get("text"))})
        elif method == "Log.entryAdded":
            e = params["entry"]
            console.append({"level": e["level"], "text": e.get("text", "")})
    return Rendered(title=info["title"], text=info["text"], images=info["images"],
                    console=console, load_seconds=load_seconds,
                    screenshot=base64.b64decode(shot["data"]))
