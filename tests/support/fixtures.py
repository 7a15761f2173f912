"""Session-scoped fixtures for the real local components (one broker and one GCS emulator per test
process, shared by every area's integration tests; each test takes its own topic/bucket)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.support.gcs import GcsServer, start_gcs_server
from tests.support.kafka import KafkaBroker, start_broker
from tests.support.plan_cache import SharedPlanCache
from tools.plan_runtime import use_plan_cache

if TYPE_CHECKING:
    from tests.support.s3 import LocalS3


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    """Tansu, in memory; ``kafka_broker.bootstrap`` is ``"127.0.0.1:PORT"``."""
    broker = start_broker(tmp_path_factory.mktemp("tansu"))
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def gcs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GcsServer]:
    """fake-gcs-server, in memory; ``.endpoint``, ``.client()``, ``.new_bucket()``, ``.env()``."""
    server = start_gcs_server(tmp_path_factory.mktemp("fake-gcs"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def local_s3() -> Iterator[LocalS3]:
    """moto's S3 server on loopback; ``.make_bucket()``, ``.client()``, ``.client_env()``, faults."""
    from tests.support.s3 import LocalS3  # moto is imported only by the runs that use it

    with LocalS3() as server:
        yield server


@pytest.fixture(scope="session", autouse=True)
def shared_plan_cache(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Iterator[None]:
    """Every offline render of this run made once, whichever worker asks first:
    tests/support/plan_cache.py. Under xdist the run's directory is the parent of each worker's own."""
    run_dir = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        run_dir = run_dir.parent
    previous = use_plan_cache(SharedPlanCache(run_dir / "plans"))
    try:
        yield
    finally:
        use_plan_cache(previous)
