"""The Xet path real nodes take: the fake hub serves the weights Xet-backed (tests/support/fake_xet.py,
real xorbs and shards made by hf-xet), and the real huggingface_hub 2.4 + hf-xet 1.8 download them
through its CAS. The loader's own sha256 is the only content check on that path (hf-xet checks none).

hf-xet reads its settings once, when huggingface_hub creates its process-wide session: the in-process
tests here lower its retry delay (its default backoff would take minutes to give up on a dead CAS); the
CLI tests run the loader's production settings."""

from __future__ import annotations

import errno
import json
import signal
from collections.abc import Iterator

import hf_xet
import httpx2
import pytest
from huggingface_hub.errors import (
    DisabledRepoError,
    FileMetadataError,
    GatedRepoError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from app.model_loader import layout
from app.model_loader.errors import (
    EXIT_OK,
    HubRefusedError,
    HubUnreachableError,
    InsufficientSpaceError,
    ModelInvalidError,
    UsageError,
)
from app.model_loader.manifest import read_manifest
from app.model_loader.store import check_tree
from tests.app.model_loader.conftest import REPO_ID, wait_until
from tests.support.fake_hf_hub import FakeHfHub

pytestmark = [pytest.mark.integration, pytest.mark.cost(6)]

WEIGHTS = "model.safetensors"


@pytest.fixture(scope="module", autouse=True)
def _fast_xet_retries(tmp_path_factory) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_XET_CLIENT_RETRY_BASE_DELAY", "20ms")
        patch.setenv("HF_XET_CLIENT_RETRY_MAX_ATTEMPTS", "2")
        patch.setenv("HF_XET_TELEMETRY_ENABLED", "false")
        patch.setenv("HF_HOME", str(tmp_path_factory.mktemp("hf-home")))  # hf-xet's logs
        yield


@pytest.fixture
def hub() -> Iterator[FakeHfHub]:
    """Overrides conftest's: the CLI fixtures (loader_env, run_cli, start_cli) point at this one."""
    with FakeHfHub(xet=True) as fake:
        yield fake


def _commit(hub: FakeHfHub, ref: str) -> str:
    return hub.repos[REPO_ID].refs[ref]


def _paths(hub: FakeHfHub, method: str, part: str) -> list[str]:
    return [p for m, p, _r in hub.requests if m == method and part in p]


# --- the Xet path, in process ------------------------------------------------------------------------


def test_the_weights_come_through_the_cas_and_match_byte_for_byte(hub, hf_hub, store, models_dir):
    store.ensure(REPO_ID, "v1", hf_hub)

    v1 = hub.repos[REPO_ID].resolve("v1")
    served = models_dir / layout.model_dir_name(REPO_ID)
    assert (served / WEIGHTS).read_bytes() == v1.files[WEIGHTS].content
    entry = next(f for f in read_manifest(served).files if f.path == WEIGHTS)
    assert (entry.lfs, entry.sha256) == (True, v1.files[WEIGHTS].sha256)
    assert len(_paths(hub, "GET", "/xet-read-token/")) == 1
    assert _paths(hub, "GET", "/v1/reconstructions/") == [
        f"/v1/reconstructions/{hub.xet_of(v1.files[WEIGHTS]).file_hash}"
    ]
    assert hub.downloads(WEIGHTS) == 1, "one ranged xorb read"
    assert _paths(hub, "GET", "/xet-bridge-us/") == [], "hf-xet must not fall back to the bridge"
    assert _paths(hub, "HEAD", WEIGHTS) == [], "the tree's xetHash spares the HEAD"


def test_bit_rot_that_hf_xet_writes_out_is_refused_by_the_loader(hub, hf_hub, store, models_dir):
    hub.corrupt(WEIGHTS)  # one byte of an uncompressed chunk: hf-xet decodes it and checks no hash

    with pytest.raises(
        ModelInvalidError, match=rf"{WEIGHTS}: sha256 [0-9a-f]+, expected .* \(hash mismatch\)"
    ):
        store.ensure(REPO_ID, "v1", hf_hub)

    assert hub.downloads(WEIGHTS) >= 1, "the corrupted range was served"
    assert not (models_dir / layout.model_dir_name(REPO_ID)).exists()
    assert not layout.revision_dir(models_dir, REPO_ID, _commit(hub, "v1")).exists()


def test_a_xorb_read_cut_half_way_is_retried_by_hf_xet(hub, hf_hub, store, models_dir):
    hub.cut_once(WEIGHTS)

    store.ensure(REPO_ID, "v1", hf_hub)

    assert hub.downloads(WEIGHTS) == 2
    assert check_tree(layout.revision_dir(models_dir, REPO_ID, _commit(hub, "v1")), deep=True).ok


def test_a_cas_outage_is_the_hub_unreachable_and_the_next_attempt_succeeds(hub, hf_hub, store):
    hub.fail("/v1/reconstructions/", 503)

    with pytest.raises(HubUnreachableError, match="Xet transfer failed: Task error"):
        store.ensure(REPO_ID, "v1", hf_hub)

    hub.reset_faults()
    store.ensure(REPO_ID, "v1", hf_hub)
    assert store.readiness(REPO_ID, "v1").ready


def test_a_refused_xet_token_is_refused_for_good(hub, hf_hub, store):
    hub.fail("/xet-read-token/", 403)

    with pytest.raises(HubRefusedError, match="HTTP 403 from the hub: check HF_TOKEN"):
        store.ensure(REPO_ID, "v1", hf_hub)


# --- the Xet path and the bridge, through the real CLI (production settings) --------------------------


def test_a_xet_download_killed_half_way_is_never_served_and_the_rerun_resumes(
    hub, models_dir, run_cli, start_cli
):
    gate = hub.stall(WEIGHTS)  # half a xorb range sent, then nothing
    first = start_cli("download", "--revision", "v1")
    assert gate.reached.wait(30), "hf-xet never read the weights' xorb"
    tmp_root = layout.tmp_root(models_dir)
    wait_until(lambda: any(tmp_root.glob("*/config.json")), message="the small files in the temp tree")

    first.proc.send_signal(signal.SIGKILL)
    first.finish()

    assert not (models_dir / layout.model_dir_name(REPO_ID)).exists(), "a killed download is never served"
    assert [i["status"] for i in json.loads(run_cli("list", "--json").stdout)] == ["interrupted"]
    hub.reset_faults()
    rerun = run_cli("download", "--revision", "v1")

    assert rerun.returncode == EXIT_OK, rerun.stderr
    assert check_tree((models_dir / layout.model_dir_name(REPO_ID)).resolve(), deep=True).ok
    assert hub.downloads("config.json") == 1, "files completed before the kill are kept"
    assert hub.downloads(WEIGHTS) == 2


def test_with_xet_disabled_the_weights_come_from_the_bridge_over_plain_http(hub, run_cli, models_dir):
    result = run_cli("download", "--revision", "v1", env={"HF_HUB_DISABLE_XET": "1"})

    assert result.returncode == EXIT_OK, result.stderr
    served = models_dir / layout.model_dir_name(REPO_ID)
    assert (served / WEIGHTS).read_bytes() == hub.repos[REPO_ID].resolve("v1").files[WEIGHTS].content
    assert len(_paths(hub, "GET", "/xet-bridge-us/")) == 1
    assert _paths(hub, "GET", "/xet-read-token/") == []
    assert _paths(hub, "GET", "/reconstructions/") == []


# --- every exception the pinned libraries raise, classified -----------------------------------------


def _http_error(cls: type[HfHubHTTPError], status: int) -> HfHubHTTPError:
    response = httpx2.Response(status, request=httpx2.Request("GET", "https://huggingface.co/api/models/a/b"))
    return cls(f"{status} from the hub", response=response)


def _xet_runtime_error() -> RuntimeError:
    return RuntimeError(
        "Task error: File reconstruction error: CAS Client Error: Request error: HTTP status 503"
    )


REQUEST = httpx2.Request("GET", "https://huggingface.co/x")
CASES = {
    "connect error": (httpx2.ConnectError("refused", request=REQUEST), HubUnreachableError),
    "connect timeout": (httpx2.ConnectTimeout("slow", request=REQUEST), HubUnreachableError),
    "read timeout": (httpx2.ReadTimeout("quiet", request=REQUEST), HubUnreachableError),
    "read error (a reset mid-body)": (httpx2.ReadError("reset", request=REQUEST), HubUnreachableError),
    "remote protocol error": (httpx2.RemoteProtocolError("closed", request=REQUEST), HubUnreachableError),
    "redirect loop": (httpx2.TooManyRedirects("loop", request=REQUEST), HubUnreachableError),
    "body fails to decode": (httpx2.DecodingError("bad gzip", request=REQUEST), HubUnreachableError),
    "proxy error": (httpx2.ProxyError("proxy said 502"), HubUnreachableError),
    "invalid endpoint URL": (httpx2.InvalidURL("no host"), UsageError),
    "endpoint not http(s)": (httpx2.UnsupportedProtocol("ftp://", request=REQUEST), UsageError),
    "HTTP 401": (_http_error(HfHubHTTPError, 401), HubRefusedError),
    "HTTP 403": (_http_error(HfHubHTTPError, 403), HubRefusedError),
    "HTTP 429 after the retries": (_http_error(HfHubHTTPError, 429), HubUnreachableError),
    "HTTP 503 after the retries": (_http_error(HfHubHTTPError, 503), HubUnreachableError),
    "HTTP 416": (_http_error(HfHubHTTPError, 416), HubUnreachableError),
    "repository not found": (_http_error(RepositoryNotFoundError, 404), HubRefusedError),
    "gated repo": (_http_error(GatedRepoError, 403), HubRefusedError),
    "revision not found": (_http_error(RevisionNotFoundError, 404), HubRefusedError),
    "file not found": (_http_error(RemoteEntryNotFoundError, 404), HubRefusedError),
    "disabled repo": (_http_error(DisabledRepoError, 403), HubRefusedError),
    "offline mode": (OfflineModeIsEnabled("HF_HUB_OFFLINE"), UsageError),
    "a HEAD failed, nothing local": (LocalEntryNotFoundError("check your connection"), HubUnreachableError),
    "not a hub (no X-Repo-Commit)": (FileMetadataError("no commit hash"), HubUnreachableError),
    "truncated transfer": (
        OSError("Consistency check failed: file should be of size 10"),
        HubUnreachableError,
    ),
    "disk full": (OSError(errno.ENOSPC, "No space left on device"), InsufficientSpaceError),
    "models dir not writable": (PermissionError(errno.EACCES, "Permission denied"), UsageError),
    "hf-xet: CAS refused the token": (hf_xet.XetAuthenticationError("401"), HubUnreachableError),
    "hf-xet: CAS lacks an object": (hf_xet.XetObjectNotFoundError("404"), HubUnreachableError),
    "hf-xet: any transfer failure": (_xet_runtime_error(), HubUnreachableError),
    "hf-xet: connection error": (ConnectionError("CAS connection"), HubUnreachableError),
    "hf-xet: timeout": (TimeoutError("CAS timeout"), HubUnreachableError),
    "token answer without X-Xet headers": (
        ValueError("Xet headers have not been correctly set by the server."),
        UsageError,
    ),
    "file over 50 GB without hf-xet": (
        ValueError("The file is too large to be downloaded using the regular download method. "),
        UsageError,
    ),
    "a bug (not hf-xet's RuntimeError)": (RuntimeError("dictionary changed size during iteration"), None),
    "a bug (KeyError)": (KeyError("siblings"), None),
}


@pytest.mark.parametrize("case", CASES)
def test_every_library_exception_has_its_meaning(case):
    from app.model_loader.hub import classify

    exc, expected = CASES[case]
    mapped = classify(exc, "acme/m@main")
    assert type(mapped) is (expected or type(None)), f"{case}: {mapped!r}"
    if mapped is not None:
        assert str(mapped).startswith("acme/m@main: ")


def test_a_redirect_loop_and_a_garbled_body_end_as_the_hub_unreachable(store):
    from app.model_loader.hub import HfHub

    with FakeHfHub() as plain:
        hub = HfHub(endpoint=plain.endpoint, token=None)
        plain.redirect_loop("config.json")
        with pytest.raises(HubUnreachableError, match="TooManyRedirects"):
            store.ensure(REPO_ID, "v1", hub)
        plain.reset_faults()
        plain.garble("/revision/")
        with pytest.raises(HubUnreachableError, match="DecodingError"):
            store.ensure(REPO_ID, "v1", hub)


def test_a_hub_that_accepts_and_never_answers_times_out(store):
    from app.model_loader.hub import HfHub

    with FakeHfHub() as plain:
        gate = plain.hang("/api/models/")
        with pytest.raises(HubUnreachableError, match="ReadTimeout"):
            store.ensure(REPO_ID, "v1", HfHub(endpoint=plain.endpoint, token=None, timeout=0.3))
        gate.release()


# --- hf-xet's memory, sized to the container ----------------------------------------------------------


def test_the_xet_buffer_is_a_quarter_of_the_container_limit_and_at_most_1_gib(tmp_path):
    from app.model_loader.xet import buffer_bytes, memory_limit, xet_environment

    gib = 1 << 30
    cgroup = tmp_path / "memory.max"
    cgroup.write_text(f"{4 * gib}\n")
    assert memory_limit((tmp_path / "absent", cgroup)) == 4 * gib
    cgroup.write_text("max\n")  # no limit: the machine's memory
    assert memory_limit((cgroup,)) > 4 * gib or memory_limit((cgroup,)) == memory_limit(())
    assert buffer_bytes(None, 4 * gib) == gib  # the DaemonSet's default 4Gi limit
    assert buffer_bytes(None, 2 * gib) == gib // 2
    assert buffer_bytes(None, 192 * gib) == gib, "never hf-xet's share of a large node's memory"
    assert buffer_bytes(256 << 20, 192 * gib) == 256 << 20
    env = xet_environment(buffer=gib, high_performance=True)
    assert (
        env["HF_XET_RECONSTRUCTION_DOWNLOAD_BUFFER_SIZE"]
        == env["HF_XET_RECONSTRUCTION_DOWNLOAD_BUFFER_LIMIT"]
    )
    assert env["HF_XET_HIGH_PERFORMANCE"] == "1"
    assert "HF_XET_HIGH_PERFORMANCE" not in xet_environment(buffer=gib, high_performance=False)


def test_hf_xet_takes_the_loaders_buffer_over_its_high_performance_defaults(monkeypatch):
    """The variables are the ones hf-xet 1.8 reads (a renamed one would silently do nothing)."""
    from app.model_loader.xet import xet_environment

    for name, value in xet_environment(buffer=300_000_000, high_performance=True).items():
        monkeypatch.setenv(name, value)
    config = hf_xet.XetConfig()
    assert config.get("reconstruction.download_buffer_size") == 300_000_000
    assert config.get("reconstruction.download_buffer_limit") == 300_000_000
    assert config.get("reconstruction.download_buffer_perfile_size") == 150_000_000
    assert config.get("chunk_cache.size_bytes") == 0
    assert config.get("telemetry.enabled") is False
