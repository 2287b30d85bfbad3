"""Independent tools the tests check against, found where CI and developers put them."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def project_command(name: str) -> str:
    """The path of this project's own console script ``name`` (``preserve``, ``evidence``):
    the one installed next to the Python running the tests (``.venv/bin``), never whatever
    ``PATH`` finds first (on a fresh machine: nothing; on a developer's: maybe another copy)."""
    path = Path(sys.executable).parent / name
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise RuntimeError(
            f"the project's command {name!r} is not installed next to {sys.executable}; "
            "install the project into this environment: pip install -e '.[test]'"
        )
    return str(path)


def wacz_validator() -> str | None:
    """The `wacz` command of py-wacz: $EVIDENCE_WACZ, ./.venv-wacz (CI), or on PATH."""
    candidates = [os.environ.get("EVIDENCE_WACZ"), str(ROOT / ".venv-wacz/bin/wacz"), "/tmp/wacz-venv/bin/wacz"]
    for c in candidates:
        if c and Path(c).is_file() and os.access(c, os.X_OK):
            return c
    return shutil.which("wacz")


def pywb_bin() -> Path | None:
    """The bin folder of a venv with pywb: $EVIDENCE_PYWB or ./.venv-pywb (CI).

    pywb pins old dependencies, so it lives in its own environment, never the project's.
    """
    for c in (os.environ.get("EVIDENCE_PYWB"), str(ROOT / ".venv-pywb/bin")):
        if c and (Path(c) / "wayback").is_file():
            return Path(c)
    return None


class Pywb:
    """A pywb collection ``demo`` holding ``files`` (WARCs, or WACZ files it unpacks), served
    by ``wayback`` on 127.0.0.1 (as a proxy with ``proxy=True``). Use as a context manager:
    it yields the base URL and stops the server on exit."""

    def __init__(self, bin_dir: Path, workdir: Path, files: list[Path], *, proxy: bool = False) -> None:
        self.bin, self.dir, self.files, self.proxy = bin_dir, workdir, files, proxy
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> str:
        def manager(*args: str) -> None:
            proc = subprocess.run([str(self.bin / "wb-manager"), *args], cwd=self.dir, capture_output=True, timeout=120)
            if proc.returncode != 0:
                raise RuntimeError(f"wb-manager {' '.join(args)} failed: {proc.stderr.decode(errors='replace')}")

        manager("init", "demo")
        waczs = [str(f) for f in self.files if f.suffix == ".wacz"]
        warcs = [str(f) for f in self.files if f.suffix != ".wacz"]
        if waczs:
            manager("add", "--unpack-wacz", "demo", *waczs)
        if warcs:
            manager("add", "demo", *warcs)
        if self.proxy:
            (self.dir / "config.yaml").write_text("proxy:\n  coll: demo\n  enable_content_rewrite: false\n")
        else:  # the archived page at the top level, not inside pywb's banner frame
            (self.dir / "config.yaml").write_text("framed_replay: false\n")
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.proc = subprocess.Popen(
            [str(self.bin / "wayback"), "-p", str(self.port), "-b", "127.0.0.1"],
            cwd=self.dir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.__exit__()
                    raise RuntimeError("pywb's wayback server did not start") from None
                time.sleep(0.2)
        return f"http://127.0.0.1:{self.port}/"

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@contextlib.contextmanager
def proxied_browser(capturer: Any, proxy_base: str) -> Iterator[Any]:
    """A Chromium of ``capturer``'s program whose every request goes through the proxy at
    ``proxy_base`` (a pywb proxy: :class:`Pywb` with ``proxy=True``), loopback included; closed on exit."""
    browser = capturer._ready().playwright.chromium.launch(
        executable_path=capturer.browser_info["executable"],
        args=["--no-sandbox", "--proxy-bypass-list=<-loopback>"],
        proxy={"server": proxy_base.rstrip("/")},
    )
    try:
        yield browser
    finally:
        browser.close()
