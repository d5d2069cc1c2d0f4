"""A real llama.cpp OpenAI-compatible server on localhost, for tests of the `openai:` backend and the judge.

Not a mock: `python -m llama_cpp.server` serving the embedded SmolLM2 GGUF, as a subprocess. It can be
stopped and started again on the same port, which is what tests of retry-until-the-server-is-back need.
The process is killed on `stop()`, on leaving the `with` block, and at interpreter exit as a last resort,
so a failing test never leaves a server holding a port.
"""

from __future__ import annotations

import atexit
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

import httpx

MODEL_ALIAS = "smollm2"
"""The name the server answers to in /v1/models (the server itself accepts any name in a request)."""


def free_port() -> int:
    """A TCP port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LlamaServer:
    """`llama_cpp.server` on 127.0.0.1:`port`; `base_url` is what an OpenAI client takes."""

    def __init__(
        self,
        model: Path,
        *,
        port: int | None = None,
        api_key: str | None = None,
        startup_timeout_s: float = 60.0,
    ) -> None:
        self.model = model
        self.port = port or free_port()
        self.api_key = api_key
        self.startup_timeout_s = startup_timeout_s
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._process: subprocess.Popen[bytes] | None = None
        self._log = Path(tempfile.mkstemp(prefix=f"llama-server-{self.port}-", suffix=".log")[1])
        atexit.register(self.stop)

    def __enter__(self) -> LlamaServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
        self._log.unlink(missing_ok=True)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start the server (no-op if running) and return once it answers GET /v1/models."""
        if self.running:
            return
        with self._log.open("wb") as log:  # a file, not a pipe: a full pipe would block the server
            self._process = subprocess.Popen(self._command(), stdout=log, stderr=subprocess.STDOUT)
        self._wait_until_ready()

    def stop(self) -> None:
        """Terminate the server and wait for it, killing it if it lingers; the port is free afterwards."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def log_tail(self, lines: int = 30) -> str:
        text = self._log.read_text(errors="replace") if self._log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def _command(self) -> list[str]:
        command = [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(self.model),
            "--model_alias", MODEL_ALIAS,
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--n_ctx", "2048",
            "--n_threads", "1",
            "--seed", "0",  # sampling is greedy at temperature 0 anyway; this pins any other temperature
            "--verbose", "False",
        ]  # fmt: skip
        if self.api_key:
            command += ["--api_key", self.api_key]
        return command

    def _wait_until_ready(self) -> None:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if not self.running:
                raise RuntimeError(
                    f"llama.cpp server on port {self.port} exited during startup "
                    f"(command: {' '.join(self._command()[:6])} ...). Its output:\n{self.log_tail()}"
                )
            try:
                if httpx.get(f"{self.base_url}/models", headers=headers, timeout=2.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(
            f"llama.cpp server on port {self.port} did not answer GET /v1/models within "
            f"{self.startup_timeout_s:.0f}s. Its output:\n{self.log_tail()}"
        )
