"""moto's server in its own process, so the benchmark's threads don't share
its interpreter (and its lock) with the handlers they are timing."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import requests

from tools.local.aws import free_port
from tools.local.stack import MotoServer
from tools.local.template import ROOT

SERVE = """
import logging, sys, threading
logging.getLogger("werkzeug").setLevel(logging.WARNING)
from tools.local.stack import MotoServer
MotoServer(int(sys.argv[1])).start()
threading.Event().wait()
"""


@contextmanager
def moto_process() -> Iterator[MotoServer]:
    """The local stack's serial moto server, started in a child process."""
    port = free_port()
    child = subprocess.Popen(
        [sys.executable, "-c", SERVE, str(port)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = MotoServer(port)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"{server.endpoint}/moto-api/", timeout=2)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline or child.poll() is not None:
                    raise RuntimeError("moto's server did not start") from None
                time.sleep(0.1)
        yield server
    finally:
        child.terminate()
        child.wait(timeout=10)
