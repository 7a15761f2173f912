"""Settings: the seed's environment names, flags on top, and errors that name the variable."""

from __future__ import annotations

import pytest

from app.loader.crash import CrashPoints
from app.loader.deadletter import decode_value, envelope_line, kafka_day
from app.loader.settings import LoaderSettings, SettingsError, load_settings

REQUIRED = {"GCS_BUCKET_NAME": "bucket-a", "KAFKA_BROKERS": "k1:9092,k2:9092"}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(LoaderSettings.model_fields):
        monkeypatch.delenv(name.upper(), raising=False)
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_seed_environment_and_defaults(env: pytest.MonkeyPatch) -> None:
    settings = load_settings([])
    assert settings.gcs_bucket_name == "bucket-a"
    assert settings.kafka_topic == "raw-interactions"
    assert settings.kafka_consumer_group == "gcs-loader-v1"
    config = settings.kafka_config()
    assert config["bootstrap.servers"] == "k1:9092,k2:9092"
    assert config["enable.auto.commit"] is False
    assert config["enable.auto.offset.store"] is False
    assert config["security.protocol"] == "PLAINTEXT"


def test_flags_override_the_environment(env: pytest.MonkeyPatch) -> None:
    env.setenv("KAFKA_TOPIC", "from-env")
    settings = load_settings(["--topic", "from-flag", "--group", "g2", "--rotation-bytes", "2048"])
    assert (settings.kafka_topic, settings.kafka_consumer_group) == ("from-flag", "g2")
    assert settings.loader_rotation_bytes == 2048


def test_sasl_ssl_settings_reach_librdkafka_and_the_password_stays_secret(env: pytest.MonkeyPatch) -> None:
    env.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    env.setenv("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    env.setenv("KAFKA_SASL_USERNAME", "loader")
    env.setenv("KAFKA_SASL_PASSWORD", "s3cret")
    env.setenv("KAFKA_SSL_CA_LOCATION", "/etc/kafka/ca.pem")
    settings = load_settings([])
    config = settings.kafka_config()
    assert config["sasl.mechanism"] == "SCRAM-SHA-512"
    assert config["sasl.password"] == "s3cret"
    assert config["ssl.ca.location"] == "/etc/kafka/ca.pem"
    assert "s3cret" not in repr(settings)


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "KAFKA_SASL_MECHANISM"),
        ({"KAFKA_SASL_USERNAME": "u"}, "KAFKA_SECURITY_PROTOCOL"),
        ({"LOADER_ROTATION_BYTES": str(8 * 1024 * 1024)}, "LOADER_ROTATION_BYTES"),
        ({"LOADER_MAX_BUFFER_BYTES": "4096"}, "LOADER_MAX_BUFFER_BYTES"),
        ({"KAFKA_TOPIC": "bad/topic"}, "KAFKA_TOPIC (--topic)"),
        ({"LOADER_COMPRESSION": "zstd"}, "LOADER_COMPRESSION (--compression)"),
    ],
)
def test_invalid_settings_name_the_variable(
    env: pytest.MonkeyPatch, extra: dict[str, str], named: str
) -> None:
    for name, value in extra.items():
        env.setenv(name, value)
    with pytest.raises(SettingsError, match=named.replace("(", r"\(").replace(")", r"\)")):
        load_settings([])


def test_missing_bucket_is_named(env: pytest.MonkeyPatch) -> None:
    env.delenv("GCS_BUCKET_NAME")
    with pytest.raises(SettingsError, match=r"GCS_BUCKET_NAME \(--bucket\)"):
        load_settings([])


def test_dead_letter_envelope_round_trips_the_original_bytes() -> None:
    original = b"\xff\x00not json\n"
    line = envelope_line(
        topic="t",
        partition=1,
        offset=7,
        timestamp_ms=1_738_324_800_000,
        key=b"k",
        value=original,
        headers=[("h", b"v")],
        reason="not_json",
        detail="bad",
    )
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    assert decode_value(line) == original
    assert (
        decode_value(
            envelope_line(
                topic="t",
                partition=1,
                offset=8,
                timestamp_ms=None,
                key=None,
                value=None,
                headers=None,
                reason="null_value",
                detail="none",
            )
        )
        is None
    )


def test_dead_letters_are_filed_by_kafka_day_never_the_wall_clock() -> None:
    assert kafka_day(1_738_368_000_000).isoformat() == "2025-02-01"
    assert kafka_day(None).isoformat() == "1970-01-01"
    assert kafka_day(10**20).isoformat() == "1970-01-01"


@pytest.mark.parametrize("spec", ["nowhere:1", "after_upload", "after_upload:0", "after_upload:1:HUP"])
def test_crash_hook_rejects_malformed_specs(spec: str) -> None:
    with pytest.raises(ValueError, match="LOADER_CRASH_AT"):
        CrashPoints(spec)


def test_crash_hook_is_inert_when_unset() -> None:
    hook = CrashPoints(None)
    hook.hit("after_upload")
    assert not hook.watches("after_upload")
