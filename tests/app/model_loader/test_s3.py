"""The S3 mirror as the model's source, against moto's S3 server on loopback (tests/support/s3.py): the
``mirror`` command's layout, parallel ranged reads verified as they arrive, bit rot and a corrupted
object refused, a kill mid-download resumed, and the hub as the fallback."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from unittest import mock

import pytest

from app.model_loader import layout
from app.model_loader.digests import DigestBook
from app.model_loader.errors import EXIT_OK, HubRefusedError, MirrorObjectUnavailableError, ModelInvalidError
from app.model_loader.manifest import read_manifest
from app.model_loader.mirror_layout import S3Location
from app.model_loader.s3 import S3Mirror
from app.model_loader.sources import FallbackSource
from app.model_loader.store import check_tree
from tests.app.model_loader.conftest import REPO_ID, wait_until
from tests.support.fake_hf_hub import FakeHfHub
from tests.support.s3 import LocalS3, put_mirror

pytestmark = [pytest.mark.integration, pytest.mark.cost(8)]

WEIGHTS = "model.safetensors"


@pytest.fixture
def s3(local_s3: LocalS3) -> Iterator[LocalS3]:
    yield local_s3
    local_s3.reset_faults()


@pytest.fixture
def location(s3: LocalS3, hub: FakeHfHub) -> S3Location:
    """A fresh prefix holding v1 (refs main and v1) of the fake hub's model, as ``mirror`` lays it out."""
    here = S3Location.parse(f"s3://{s3.make_bucket()}/mirror/models")
    v1 = hub.repos[REPO_ID].resolve("v1")
    put_mirror(
        s3, here, REPO_ID, {p: f.content for p, f in v1.files.items()}, refs=("main", "v1"), commit=v1.commit
    )
    return here


@pytest.fixture
def mirror(s3: LocalS3, location: S3Location) -> S3Mirror:
    return S3Mirror(location, client=s3.client(), part_bytes=16 << 10)  # the weights in six ranged reads


def _put_v2(s3: LocalS3, location: S3Location, hub: FakeHfHub, **changes: bytes) -> str:
    v2 = hub.repos[REPO_ID].resolve("v2")
    put_mirror(
        s3, location, REPO_ID, {p: f.content for p, f in v2.files.items()}, refs=("v2",), commit=v2.commit
    )
    for path, content in changes.items():  # the object changed behind the manifest's back
        s3.client().put_object(
            Bucket=location.bucket, Key=location.revision_key(REPO_ID, v2.commit, path), Body=content
        )
    return v2.commit


def test_the_mirror_is_read_in_parallel_ranges_and_hashed_as_it_arrives(s3, hub, mirror, tmp_path):
    snapshot = mirror.resolve(REPO_ID, "main")
    book = DigestBook()
    dest = tmp_path / "dest"

    mirror.fetch(snapshot, dest, cache_dir=tmp_path, digests=book)

    v1 = hub.repos[REPO_ID].resolve("v1")
    assert snapshot.commit == v1.commit
    for path, fake in v1.files.items():
        assert (dest / path).read_bytes() == fake.content, path
        streamed = book.for_file(path, dest / path)
        assert streamed is not None, f"{path} was not hashed while it arrived"
        assert (streamed.digest.sha256, streamed.synced) == (fake.sha256, True)
    ranges = s3.ranges(f"{v1.commit}/{WEIGHTS}")
    assert len(ranges) == 6, ranges
    assert all(r is not None and r.startswith("bytes=") for r in ranges)
    assert not layout.incoming_dir(dest).exists()


def test_a_download_from_the_mirror_is_served_and_names_its_source(hub, mirror, store, models_dir, location):
    result = store.ensure(REPO_ID, "main", mirror)

    served = models_dir / layout.model_dir_name(REPO_ID)
    assert check_tree(served.resolve(), deep=True).ok
    assert result.manifest.endpoint == location.url
    assert hub.requests == [], "the hub is not asked when the mirror has the revision"


def test_bit_rot_in_transit_is_refused_naming_the_file(s3, mirror, store, models_dir):
    s3.flip(WEIGHTS)

    with pytest.raises(ModelInvalidError, match=rf"{WEIGHTS}: sha256 .* \(hash mismatch\)"):
        store.ensure(REPO_ID, "main", mirror)

    assert not (models_dir / layout.model_dir_name(REPO_ID)).exists()


def test_a_corrupted_update_in_the_mirror_is_refused_and_the_served_revision_stays(
    s3, hub, mirror, store, models_dir, location
):
    v1 = store.ensure(REPO_ID, "main", mirror).manifest.commit
    weights = hub.repos[REPO_ID].resolve("v2").files[WEIGHTS].content
    v2 = _put_v2(s3, location, hub, **{WEIGHTS: weights[:-1] + bytes([weights[-1] ^ 1])})

    with pytest.raises(ModelInvalidError, match=f"{WEIGHTS}: sha256"):
        store.ensure(REPO_ID, "v2", mirror)

    assert store.served_commit(layout.model_dir_name(REPO_ID)) == v1
    assert not layout.revision_dir(models_dir, REPO_ID, v2).exists()
    assert store.readiness(REPO_ID).ready


def test_an_object_of_the_wrong_size_is_refused_even_with_the_hub_as_fallback(
    s3, hub, hf_hub, mirror, store, location
):
    """The manifest says what the bytes must be: an object that disagrees is a mirror to repair, not a
    reason to fetch elsewhere (unlike one that is missing or denied)."""
    weights = hub.repos[REPO_ID].resolve("v2").files[WEIGHTS].content
    v2 = _put_v2(s3, location, hub, **{WEIGHTS: weights[:-1]})

    with pytest.raises(ModelInvalidError, match=f"{WEIGHTS}: the mirror delivered"):
        store.ensure(REPO_ID, "v2", FallbackSource(mirror, lambda: hf_hub))

    assert hub.downloads(WEIGHTS) == 0
    assert not layout.revision_dir(store.root, REPO_ID, v2).exists()


def test_a_revision_the_mirror_lacks_is_refused_without_a_fallback(mirror, store):
    with pytest.raises(HubRefusedError, match="revision 'v2' is not mirrored"):
        store.ensure(REPO_ID, "v2", mirror)


def test_the_hub_is_the_fallback_for_a_missing_revision_and_a_mirror_that_is_down(
    s3, hub, hf_hub, mirror, store, location
):
    source = FallbackSource(mirror, lambda: hf_hub)

    missing = store.ensure(REPO_ID, "v2", source)  # not mirrored: resolved and fetched at the hub

    assert missing.manifest.endpoint == hub.endpoint
    assert hub.downloads(WEIGHTS) == 1
    s3.set_down(True)
    down = store.ensure(REPO_ID, "v1", FallbackSource(mirror, lambda: hf_hub))
    assert down.manifest.endpoint == hub.endpoint
    assert down.manifest.commit == hub.repos[REPO_ID].refs["v1"]


@pytest.mark.parametrize("fault", ["deleted", "denied"])
def test_an_object_the_mirror_cannot_deliver_is_fetched_at_the_hub_only_with_the_fallback(
    fault, s3, hub, hf_hub, mirror, store, location, models_dir, caplog
):
    """The revision's manifest is there, one object is not: deleted (404), or denied (403, what S3
    answers for a missing key under the stack's prefix-conditioned ListBucket grant). Without the
    fallback the node fails naming the key; with it, the hub delivers the revision."""
    v1 = hub.repos[REPO_ID].resolve("v1")
    key = location.revision_key(REPO_ID, v1.commit, WEIGHTS)
    if fault == "deleted":
        s3.client().delete_object(Bucket=location.bucket, Key=key)
    else:
        s3.deny(WEIGHTS)

    with pytest.raises(MirrorObjectUnavailableError) as refused:
        store.ensure(REPO_ID, "main", mirror)
    assert f"s3://{location.bucket}/{key}" in str(refused.value)
    assert refused.value.exit_code == HubRefusedError.exit_code
    if fault == "denied":
        assert "either it is missing from the mirror" in str(refused.value)
        assert "lacks s3:GetObject" in str(refused.value)
    assert not (models_dir / layout.model_dir_name(REPO_ID)).exists()
    assert hub.downloads(WEIGHTS) == 0

    result = store.ensure(REPO_ID, "main", FallbackSource(mirror, lambda: hf_hub))

    assert (result.manifest.endpoint, result.manifest.commit) == (hub.endpoint, v1.commit)
    assert hub.downloads(WEIGHTS) == 1
    assert check_tree((models_dir / layout.model_dir_name(REPO_ID)).resolve(), deep=True).ok
    (warning,) = [r for r in caplog.records if getattr(r, "event", None) == "source.fallback"]
    assert key in warning.getMessage()


def test_a_mirror_that_fails_mid_download_hands_the_rest_to_the_hub(
    s3, hub, hf_hub, location, store, models_dir
):
    """The mirror resolves the revision, then goes down while the weights arrive: the hub delivers the
    rest, the tree is verified as usual and its manifest names the hub."""
    import threading

    # One ranged read at a time: the first is held half-way, S3 goes down, the next ones answer 503.
    mirror = S3Mirror(location, client=s3.client(), part_bytes=16 << 10, max_concurrency=1)
    gate = s3.stall(WEIGHTS)

    def fail_then_release() -> None:
        if gate.reached.wait(30):
            s3.set_down(True)
        gate.release()

    outage = threading.Thread(target=fail_then_release)
    outage.start()
    try:
        result = store.ensure(REPO_ID, "main", FallbackSource(mirror, lambda: hf_hub))
    finally:
        outage.join()

    assert s3.gets(WEIGHTS) >= 2, "the mirror was read, then failed"
    assert result.manifest.endpoint == hub.endpoint
    assert hub.downloads(WEIGHTS) == 1
    assert check_tree((models_dir / layout.model_dir_name(REPO_ID)).resolve(), deep=True).ok


def test_the_mirror_command_lays_out_what_the_loader_reads(hub, s3, store, tmp_path, capsys):
    from app.model_loader.cli import main

    location = S3Location.parse(f"s3://{s3.make_bucket()}/judge")
    args = ["mirror", "--repo-id", REPO_ID, "--revision", "v1", "--to", location.url]
    env = {**s3.client_env(), "HF_ENDPOINT": hub.endpoint, "MODELS_DIR": str(tmp_path / "work")}
    with mock.patch.dict(os.environ, env):  # the CLI sets hf-xet's variables: undone afterwards
        assert main(args) == EXIT_OK

    assert f"to {location.url}; refs/v1 -> {hub.repos[REPO_ID].refs['v1']}" in capsys.readouterr().out
    manifest = store.ensure(REPO_ID, "v1", S3Mirror(location, client=s3.client())).manifest
    assert {f.path: f.sha256 for f in manifest.files} == {
        p: f.sha256 for p, f in hub.repos[REPO_ID].resolve("v1").files.items()
    }
    assert not (tmp_path / "work" / layout.model_dir_name(REPO_ID)).exists(), "mirror serves nothing"


def test_an_s3_download_killed_half_way_is_never_served_and_the_rerun_resumes(
    s3, location, models_dir, run_cli, start_cli
):
    env = {**s3.client_env(), "MODEL_SOURCE": location.url, "MODEL_SOURCE_FALLBACK": "none"}
    gate = s3.stall(WEIGHTS)
    first = start_cli("download", "--revision", "v1", env=env)
    assert gate.reached.wait(30), "the weights were never read"
    tmp_root = layout.tmp_root(models_dir)
    wait_until(lambda: any(tmp_root.glob("*/config.json")), message="the small files in the temp tree")

    first.proc.send_signal(signal.SIGKILL)
    first.finish()

    served = models_dir / layout.model_dir_name(REPO_ID)
    assert not served.exists(), "a killed download is never served"
    s3.reset_faults()
    before = s3.gets("config.json")
    rerun = run_cli("download", "--revision", "v1", env=env)

    assert rerun.returncode == EXIT_OK, rerun.stderr
    assert check_tree(served.resolve(), deep=True).ok
    assert read_manifest(served).endpoint == location.url
    assert s3.gets("config.json") == before, "files completed before the kill are kept"


def _client_error(code: str, status: int) -> Exception:
    import botocore.exceptions

    response = {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return botocore.exceptions.ClientError(response, "GetObject")  # pyright: ignore[reportArgumentType]


def test_every_s3_failure_has_its_meaning():
    import errno

    import botocore.exceptions

    from app.model_loader.errors import HubUnreachableError, InsufficientSpaceError
    from app.model_loader.s3 import classify_s3

    cases = {
        "not mirrored": (_client_error("NoSuchKey", 404), HubRefusedError),
        "no bucket": (_client_error("NoSuchBucket", 404), HubRefusedError),
        "IAM denies": (_client_error("AccessDenied", 403), HubRefusedError),
        "throttled": (_client_error("SlowDown", 503), HubUnreachableError),
        "S3 error": (_client_error("InternalError", 500), HubUnreachableError),
        "no endpoint": (
            botocore.exceptions.EndpointConnectionError(endpoint_url="https://s3"),
            HubUnreachableError,
        ),
        "reset mid-body": (botocore.exceptions.ResponseStreamingError(error="reset"), HubUnreachableError),
        "no credentials yet": (botocore.exceptions.NoCredentialsError(), HubUnreachableError),
        "disk full": (OSError(errno.ENOSPC, "No space left on device"), InsufficientSpaceError),
        "a bug": (KeyError("Body"), type(None)),
    }
    for case, (exc, expected) in cases.items():
        mapped = classify_s3(exc, "s3://b/p: acme/m@main", "it is missing")
        assert type(mapped) is expected, f"{case}: {mapped!r}"
    denied = str(classify_s3(_client_error("AccessDenied", 403), "s3://b/p: acme/m@main", "it is missing"))
    assert "either it is missing" in denied, "a missing key reads as 403 to a reader that may not list it"
    # Reading an object the manifest lists: missing or denied is the mirror not delivering it (the hub's
    # to fetch, with the fallback); expired credentials or a bucket gone are not about that object.
    for code, status, expected in [
        ("404", 404, MirrorObjectUnavailableError),  # a HEAD's error has no body: the status is the code
        ("NoSuchKey", 404, MirrorObjectUnavailableError),
        ("403", 403, MirrorObjectUnavailableError),
        ("AccessDenied", 403, MirrorObjectUnavailableError),
        ("ExpiredToken", 400, HubRefusedError),
        ("NoSuchBucket", 404, HubRefusedError),
        ("SlowDown", 503, HubUnreachableError),
    ]:
        mapped = classify_s3(
            _client_error(code, status), "s3://b/p: acme/m@c", "?", key="s3://b/p/acme/m/c/w"
        )
        assert type(mapped) is expected, f"{code}: {mapped!r}"
