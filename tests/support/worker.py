"""Runs a real `chatlens worker` (or `chatlens ingest`) as a subprocess, as an operator would."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

CHATLENS = str(Path(sys.executable).with_name("chatlens"))
PR_SET_PDEATHSIG = 1
_prctl = ctypes.CDLL(None, use_errno=True).prctl   # looked up here: the forked child only calls it


def die_with_the_tests() -> None:
    """In the child before exec: SIGKILL when the test process ends, even when a signal ends it before its
    fixtures can stop the worker (an interrupted run once left two workers eating CPU for hours)."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class WorkerProcess:
    started: list[WorkerProcess] = []   # every worker a test started: the session kills those still running

    def __init__(self, env: dict[str, str], log_path: Path, command: tuple[str, ...] = ("worker",)):
        self.env = {**os.environ, **env}
        self.command = command
        self.port = int(env["CHATLENS_INGEST_PORT"] if command[0] == "ingest" else env["CHATLENS_HTTP_PORT"])
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None
        self.admin_key = env.get("CHATLENS_ADMIN_KEY", "")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90.0) -> WorkerProcess:
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([CHATLENS, *self.command], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True,
                                     preexec_fn=die_with_the_tests)
        WorkerProcess.started.append(self)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"worker not healthy within {timeout}s:\n{self.log_tail()}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout=60)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.kill(signal.SIGTERM)

    def log_tail(self, chars: int = 6000) -> str:
        """The end of the worker's log without its HTTP access lines (the polling drowns the rest)."""
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(line for line in lines if '" 200' not in line and '" 202' not in line)[-chars:]

    def sql(self, query: str, **parameters) -> list[list]:
        response = httpx.post(f"{self.url}/v1/sql", json={"sql": query, "parameters": parameters},
                              headers={"Authorization": f"Bearer {self.admin_key}"}, timeout=30)
        response.raise_for_status()
        return response.json()["rows"]

    def wait_for(self, query: str, expected, timeout: float = 30.0, **parameters):
        """Poll a query until it returns `expected`; returns the last result either way."""
        deadline = time.monotonic() + timeout
        rows = None
        while time.monotonic() < deadline:
            rows = self.sql(query, **parameters)
            if rows == expected:
                return rows
            time.sleep(0.2)
        return rows
