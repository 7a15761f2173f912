"""Settings: the seed's environment names, flags on top, and errors that name the variable."""

from __future__ import annotations

import pytest

from app.loader.crash import CrashPoints
from app.loader.deadletter import decode_value, envelope_line, kafka_day
from app.loader.settings import LoaderSettings, SettingsError, environment_problems, load_settings

REQUIRED = {"GCS_BUCKET_NAME": "bucket-a", "KAFKA_BROKERS": "k1:9092,k2:9092"}
SASL = {
    "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
    "KAFKA_SASL_USERNAME": "loader",
    "KAFKA_SASL_PASSWORD": "s3cret",
}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in [*LoaderSettings.model_fields, "cloud_run_task_count"]:
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
    for name, value in SASL.items():
        env.setenv(name, value)
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


def _cloud_run(env: pytest.MonkeyPatch, execution: str, index: int, attempt: int) -> None:
    env.setenv("CLOUD_RUN_JOB", "interaction-loader")
    env.setenv("CLOUD_RUN_EXECUTION", execution)
    env.setenv("CLOUD_RUN_TASK_INDEX", str(index))
    env.setenv("CLOUD_RUN_TASK_ATTEMPT", str(attempt))
    env.setenv("CLOUD_RUN_TASK_COUNT", "3")


def test_on_cloud_run_each_task_is_a_static_member_named_by_job_and_task_index(
    env: pytest.MonkeyPatch,
) -> None:
    ids = {}
    for execution, index, attempt in [("e1", 0, 0), ("e1", 0, 1), ("e2", 0, 0), ("e1", 2, 0)]:
        _cloud_run(env, execution, index, attempt)
        ids[(execution, index, attempt)] = load_settings([]).kafka_config()["group.instance.id"]
    # A retried task (new attempt) and the same task of a new execution take the member's place.
    assert ids[("e1", 0, 0)] == ids[("e1", 0, 1)] == ids[("e2", 0, 0)] == "interaction-loader-0"
    assert ids[("e1", 2, 0)] == "interaction-loader-2"


def test_outside_cloud_run_membership_is_dynamic_unless_an_id_is_given(env: pytest.MonkeyPatch) -> None:
    assert "group.instance.id" not in load_settings([]).kafka_config()
    env.setenv("KAFKA_GROUP_INSTANCE_ID", "loader-on-gke-0")
    assert load_settings([]).kafka_config()["group.instance.id"] == "loader-on-gke-0"
    _cloud_run(env, "e1", 1, 0)
    assert load_settings(["--group-instance-id", "none"]).group_instance_id is None


@pytest.mark.parametrize("value", ["has space", "x" * 250, ""])
def test_an_invalid_instance_id_is_refused(env: pytest.MonkeyPatch, value: str) -> None:
    env.setenv("KAFKA_GROUP_INSTANCE_ID", value)
    with pytest.raises(SettingsError, match=r"KAFKA_GROUP_INSTANCE_ID \(--group-instance-id\)"):
        load_settings([])


def test_the_wait_for_an_assignment_is_never_shorter_than_a_dead_members_session(
    env: pytest.MonkeyPatch,
) -> None:
    defaults = load_settings([])
    assert defaults.loader_idle_exit_seconds >= defaults.min_idle_exit_seconds
    assert defaults.min_idle_exit_seconds == 45 + 3 + 7
    env.setenv("LOADER_IDLE_EXIT_SECONDS", "30")  # the old default: shorter than the 45 s session
    with pytest.raises(SettingsError) as raised:
        load_settings([])
    message = str(raised.value)
    assert "LOADER_IDLE_EXIT_SECONDS (30)" in message
    assert "KAFKA_SESSION_TIMEOUT_MS" in message
    assert "\n" not in message
    # A shorter session allows a shorter wait.
    assert load_settings(["--session-timeout-ms", "6000", "--heartbeat-interval-ms", "500"])


def test_help_lists_every_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        load_settings(["--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    for code in ("0  done", "1  the run failed", "2  invalid settings", "3  no partition"):
        assert code in text, code


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


def test_a_deploy_time_check_reads_the_variables_given_not_the_environment_of_the_deployer(
    env: pytest.MonkeyPatch,
) -> None:
    env.setenv("KAFKA_SESSION_TIMEOUT_MS", "200000")  # the deployer's shell: not the job's
    assert environment_problems({"LOADER_IDLE_EXIT_SECONDS": "60", "UNRELATED": "x"}) == []
    (problem,) = environment_problems({"KAFKA_SESSION_TIMEOUT_MS": "120000"})
    assert problem.startswith("LOADER_IDLE_EXIT_SECONDS (60) must be at least")
    assert environment_problems({"LOADER_COMPRESSION": "zstd"})[0].startswith(
        "LOADER_COMPRESSION (--compression): "
    )


def _refusal(config: dict) -> str | None:
    """librdkafka's own verdict on a consumer config: None if it builds a consumer, else its message.
    Nothing connects: the brokers in these settings do not exist and the consumer closes at once."""
    from confluent_kafka import Consumer, KafkaException

    try:
        consumer = Consumer(config)
    except KafkaException as exc:
        return str(exc.args[0].str())
    consumer.close()
    return None


def test_the_consumer_says_classic_and_librdkafka_accepts_every_key_under_it(env: pytest.MonkeyPatch) -> None:
    # Every key the loader can set: SASL and static membership on top of the defaults (no CA file: the
    # consumer reads it when it is built, and this one does not exist here).
    for name, value in SASL.items():
        env.setenv(name, value)
    env.setenv("KAFKA_GROUP_INSTANCE_ID", "loader-0")
    config = load_settings([]).kafka_config()

    assert config["group.protocol"] == "classic"
    assert _refusal(config) is None


def test_under_the_consumer_protocol_librdkafka_refuses_the_loaders_keys(env: pytest.MonkeyPatch) -> None:
    # What the loader would meet once librdkafka's default becomes `consumer` (CONFIGURATION.md): the
    # explicit key above is what keeps these settings working.
    config = {**load_settings([]).kafka_config(), "group.protocol": "consumer"}

    refusal = _refusal(config)

    assert refusal is not None
    assert "session.timeout.ms" in refusal or "heartbeat.interval.ms" in refusal, refusal
