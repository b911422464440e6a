"""A real JupyterLab server and a real headless Chromium, shared by the browser tests.

The server runs on 127.0.0.1 at a free port with a random token, with its own
settings folder (autosave, news and update checks off; notebooks rendered without
windowing so every cell is in the page). Chromium is Debian's (/usr/bin/chromium),
driven by Playwright; `playwright install` is not needed.

The server runs on this Python unless LAB_PYTHON names another one: tests/compat runs one
notebook's test against JupyterLab 4.0 and ipywidgets 7.8 from the oldest-versions
environment that way.

Without Chromium the tests skip with a message saying how to install it; in CI
(REQUIRE_BROWSER=1, set by .ci/run) a missing browser is a failure.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "test-output" / "e2e"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                         "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


def chromium_path() -> str | None:
    """Debian's Chromium, or CHROMIUM_PATH if set."""
    candidate = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
    return candidate if Path(candidate).exists() else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def chromium() -> str:
    path = chromium_path()
    if path is None:
        message = ("Chromium not found: the browser tests need it. Install it with "
                   "`sudo apt install chromium` (Debian/Ubuntu) or set CHROMIUM_PATH.")
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


class Lab:
    """A running JupyterLab: its base URL and token, and a REST helper."""

    def __init__(self, base: str, token: str, proc: subprocess.Popen) -> None:
        self.base, self.token, self.proc = base, token, proc

    def url(self, path: str) -> str:
        return f"{self.base}/{path.lstrip('/')}?token={self.token}"

    def api(self, path: str, method: str = "GET") -> object:
        req = urllib.request.Request(f"{self.base}/api/{path}", method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self) -> None:
        for session in self.api("sessions"):
            self.api(f"sessions/{session['id']}", method="DELETE")


@pytest.fixture(scope="session")
def lab(chromium: str) -> Lab:
    settings = Path(tempfile.mkdtemp(prefix="lab-settings-"))
    for rel, content in SETTINGS.items():
        (settings / rel).parent.mkdir(parents=True, exist_ok=True)
        (settings / rel).write_text(json.dumps(content))
    # checkpoints go to a temporary folder, not to notebooks/.ipynb_checkpoints in the repository
    checkpoints = Path(tempfile.mkdtemp(prefix="lab-checkpoints-"))
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(settings),
               JUPYTERLAB_WORKSPACES_DIR=tempfile.mkdtemp(prefix="lab-workspaces-"))
    OUTPUT.mkdir(parents=True, exist_ok=True)
    log = open(OUTPUT / "jupyterlab.log", "w")  # noqa: SIM115 - closed when the session ends
    cmd = [os.environ.get("LAB_PYTHON") or sys.executable, "-m", "jupyter", "lab", "--no-browser",
           "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
           f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={ROOT}", f"--FileCheckpoints.root_dir={checkpoints}", "--expose-app-in-browser"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = Lab(f"http://127.0.0.1:{port}", token, proc)
    deadline = time.time() + 60
    while True:
        try:
            server.api("status")
            break
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                pytest.fail(f"JupyterLab did not start; see {OUTPUT / 'jupyterlab.log'}")
            time.sleep(0.2)
    yield server
    server.shutdown_kernels()
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()
    shutil.rmtree(settings, ignore_errors=True)
    shutil.rmtree(checkpoints, ignore_errors=True)


@pytest.fixture(scope="session")
def browser(chromium: str):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()
