"""GcpConfig: every bad value is a clear error that names its config key; the defaults are the seed's."""

from __future__ import annotations

from typing import Any

import pytest

from components.config import ConfigError, GcpConfig, load_stack_config
from components.config.schedules import cron_problem, shortest_gap_seconds

from .helpers import gcp_block, merged


def problems(gcp: dict[str, Any], **top: Any) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_stack_config({"gcp": gcp, "aws": {"enabled": False}, **top})
    return info.value.problems


def one_problem(gcp: dict[str, Any]) -> str:
    found = problems(gcp)
    assert len(found) == 1, found
    return found[0]


def test_an_empty_gcp_block_is_valid_so_stacks_that_switch_gcp_off_load():
    cfg = load_stack_config({"gcp": {"enabled": False}})
    assert cfg.gcp.enabled is False
    assert GcpConfig().enabled is True


def test_defaults_are_the_seeds_values():
    g = GcpConfig()
    assert g.region == "us-central1"
    assert g.schedules.time_zone == "UTC"
    assert g.schedules.loader.cron == "0 * * * *"
    assert g.schedules.judge.cron == "0 2 * * *"
    assert g.kafka.topic == "raw-interactions"
    assert g.kafka.consumer_group == "gcs-loader-v1"
    assert g.jobs.loader.resources.cpu == "1"
    assert g.jobs.loader.resources.memory == "512Mi"
    assert g.jobs.judge.model_id == "publishers/google/models/gemini-3.5-flash-lite"
    assert g.jobs.judge.location == "global"
    assert g.jobs.judge.prompt_path == "prompts/security-judge.prompt.yml"
    assert g.images.repository_id == "flash-cache-repo"
    assert [(r.prefix, r.delete_after_days) for r in g.bucket.lifecycle] == [
        ("raw/", 90),
        ("batch/", 30),
        ("deadletter/", 30),
        ("_loader/", 90),
    ]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_committed_stack_blocks_load(stack):
    cfg = load_stack_config({"gcp": gcp_block(stack)})
    assert cfg.gcp.enabled
    assert cfg.gcp.kafka.brokers


def test_deletion_protection_is_off_in_dev_and_on_in_prod():
    assert load_stack_config({"gcp": gcp_block("dev")}).gcp.deletion_protection is False
    assert load_stack_config({"gcp": gcp_block("prod")}).gcp.deletion_protection is True


@pytest.mark.parametrize(
    ("cron", "why"),
    [
        ("61 * * * *", "out of range"),
        ("@hourly", "has 1 field(s)"),
        ("0 0 * * * *", "has 6 field(s)"),
        ("0 0 L * *", "not unix-cron"),
        ("0 0 * * 1#2", "not unix-cron"),
        ("0 0 ? * *", "not unix-cron"),
        ("every hour", "has 2 field(s)"),
    ],
)
def test_a_bad_cron_expression_is_an_error_naming_the_schedule_key(cron, why):
    message = one_problem({"schedules": {"judge": {"cron": cron}}})
    assert message.startswith("llm-judge:gcp.schedules.judge.cron: ")
    assert why in message


@pytest.mark.parametrize("cron", ["0 * * * *", "0 2 * * *", "*/15 1-5 * JAN-MAR MON-FRI", "30 6 1,15 * *"])
def test_unix_cron_forms_cloud_scheduler_takes_are_accepted(cron):
    assert cron_problem(cron) is None


def test_an_unknown_key_is_reported_with_its_full_path():
    found = problems({"jobs": {"loader": {"cpus": "1"}}, "shedules": {}})
    assert "llm-judge:gcp.jobs.loader.cpus: unknown key (check the spelling; keys are camelCase)" in found
    assert any(p.startswith("llm-judge:gcp.shedules: unknown key") for p in found)


def test_wrong_types_are_not_coerced():
    found = problems({"jobs": {"loader": {"taskCount": "3"}}, "deletionProtection": "yes"})
    assert any(
        p.startswith("llm-judge:gcp.jobs.loader.taskCount: Input should be a valid integer") for p in found
    )
    assert any(
        p.startswith("llm-judge:gcp.deletionProtection: Input should be a valid boolean") for p in found
    )


@pytest.mark.parametrize(
    "zone",
    ["Mars/Olympus", "America", "x" * 300, "../etc/passwd", "UTC\x00", "/etc/localtime"],
    ids=["unknown", "a-directory", "longer-than-a-file-name", "outside", "nul", "absolute"],
)
def test_an_unknown_time_zone_is_rejected(zone):
    assert one_problem({"schedules": {"timeZone": zone}}).startswith(
        "llm-judge:gcp.schedules.timeZone: must be a tz database name"
    )


def test_a_loader_timeout_as_long_as_its_schedule_interval_is_rejected():
    message = one_problem({"jobs": {"loader": {"timeoutSeconds": 3600, "maxRetries": 0}}})
    assert message.startswith(
        "llm-judge:gcp.jobs.loader.timeoutSeconds: 3600s x 1 attempt(s) (maxRetries 0) = 3600s is not "
        "shorter than the 3600s"
    )
    # A slower schedule leaves room for the same timeout.
    load_stack_config(
        {
            "gcp": {
                "jobs": {"loader": {"timeoutSeconds": 3600, "maxRetries": 0}},
                "schedules": {"loader": {"cron": "0 */2 * * *"}},
            }
        }
    )


def test_the_loader_bound_counts_every_attempt_and_names_the_timeout_that_fits():
    # The old prod values: 3000 s per attempt fits the hour, three attempts (2.5 h) do not.
    message = one_problem({"jobs": {"loader": {"timeoutSeconds": 3000, "maxRetries": 2}}})
    assert "3000s x 3 attempt(s) (maxRetries 2) = 9000s is not shorter than the 3600s" in message
    assert message.endswith("lower timeoutSeconds to at most 1199 (the timeout gives; the retries are kept)")
    load_stack_config({"gcp": {"jobs": {"loader": {"timeoutSeconds": 1199, "maxRetries": 2}}}})


def test_tasks_that_run_in_waves_multiply_the_bound():
    waves = {"taskCount": 4, "parallelism": 2, "timeoutSeconds": 1000}
    load_stack_config({"gcp": {"jobs": {"loader": {**waves, "maxRetries": 0}}}})
    message = one_problem({"jobs": {"loader": {**waves, "maxRetries": 1}}})
    assert "x 2 waves of tasks (taskCount 4, parallelism 2) = 4000s" in message
    assert message.endswith("at most 899 (the timeout gives; the retries are kept)")


def test_when_no_timeout_fits_the_retries_give():
    message = one_problem(
        {"jobs": {"loader": {"maxRetries": 10}}, "schedules": {"loader": {"cron": "* * * * *"}}}
    )
    assert message.endswith(
        "lower jobs.loader.maxRetries (no timeout of 10 s or more fits with these retries)"
    )


def test_the_default_loader_fits_an_hourly_schedule_with_its_retry():
    loader = GcpConfig().jobs.loader
    assert loader.max_retries == 1
    assert loader.longest_execution_seconds == 3000 < shortest_gap_seconds("0 * * * *", "UTC")


@pytest.mark.parametrize(
    ("network", "key", "why"),
    [
        ({}, "jobs.loader.network.subnetwork", "set network, subnetwork or both"),
        ({"network": "Kafka_VPC"}, "jobs.loader.network.network", "must be a VPC network name"),
        (
            {"subnetwork": "regions/us-central1/subnetworks/x"},
            "jobs.loader.network.subnetwork",
            "must be a subnetwork",
        ),
        ({"network": "vpc", "tags": ["Loader"]}, "jobs.loader.network.tags[0]", "must be a network tag"),
        ({"network": "vpc", "egress": "PRIVATE"}, "jobs.loader.network.egress", "Input should be"),
        (
            {"subnetwork": "projects/host-project-1/regions/europe-west1/subnetworks/kafka"},
            "jobs.loader.network.subnetwork",
            "is in europe-west1, but the jobs run in region us-central1",
        ),
    ],
)
def test_vpc_egress_settings_are_checked(network, key, why):
    message = one_problem({"jobs": {"loader": {"network": network}}})
    assert message.startswith(f"llm-judge:gcp.{key}: "), message
    assert why in message


def test_shortest_gap_sees_the_tightest_pair_of_runs():
    assert shortest_gap_seconds("0 * * * *", "UTC") == 3600
    assert shortest_gap_seconds("0,10 * * * *", "UTC") == 600
    assert shortest_gap_seconds("0 2 * * *", "Europe/Berlin") >= 23 * 3600


def test_parallelism_above_task_count_is_rejected():
    assert one_problem({"jobs": {"loader": {"taskCount": 2, "parallelism": 3}}}) == (
        "llm-judge:gcp.jobs.loader.parallelism: 3 is greater than taskCount 2"
    )


@pytest.mark.parametrize(
    ("resources", "ok"),
    [
        ({"cpu": "1", "memory": "512Mi"}, True),
        ({"cpu": "1", "memory": "4Gi"}, True),
        ({"cpu": "1", "memory": "8Gi"}, False),
        ({"cpu": "4", "memory": "1Gi"}, False),
        ({"cpu": "1", "memory": "256Mi"}, False),
    ],
)
def test_memory_must_fit_what_cloud_run_allows_for_the_cpu(resources, ok):
    gcp = {"jobs": {"judge": {"resources": resources}}}
    if ok:
        load_stack_config({"gcp": gcp})
    else:
        assert one_problem(gcp).startswith("llm-judge:gcp.jobs.judge.resources.memory: ")


def test_cpu_is_one_of_cloud_runs_values():
    assert one_problem({"jobs": {"loader": {"resources": {"cpu": "3"}}}}).startswith(
        "llm-judge:gcp.jobs.loader.resources.cpu: "
    )


@pytest.mark.parametrize(
    "image",
    [
        "us-central1-docker.pkg.dev/p/flash-cache-repo/loader:latest",
        "us-central1-docker.pkg.dev/p/flash-cache-repo/loader",
        "loader@sha256:abc",
    ],
)
def test_an_existing_image_must_be_pinned(image):
    assert one_problem({"jobs": {"loader": {"image": image}}}).startswith("llm-judge:gcp.jobs.loader.image: ")


@pytest.mark.parametrize(
    "image",
    [
        "us-central1-docker.pkg.dev/p/flash-cache-repo/loader:v1.2.3",
        "us-central1-docker.pkg.dev/p/flash-cache-repo/loader:1.2.3",  # sorts before "latest"
        "us-central1-docker.pkg.dev/p/flash-cache-repo/loader@sha256:" + "a" * 64,
    ],
)
def test_an_existing_image_pinned_by_tag_or_digest_is_accepted(image):
    assert load_stack_config({"gcp": {"jobs": {"loader": {"image": image}}}}).gcp.jobs.loader.image == image


def test_extra_env_cannot_override_what_the_stack_sets():
    found = problems(
        {"jobs": {"loader": {"extraEnv": {"KAFKA_TOPIC": "x"}}, "judge": {"extraEnv": {"MODEL_ID": "m"}}}}
    )
    assert any(
        p.startswith("llm-judge:gcp.jobs.loader.extraEnv.KAFKA_TOPIC: is set by the stack") for p in found
    )
    assert any(p.startswith("llm-judge:gcp.jobs.judge.extraEnv.MODEL_ID: is set by the stack") for p in found)


def test_a_tests_crash_hook_is_refused_in_every_jobs_environment():
    hooks = {
        "loader": {"LOADER_CRASH_AT": "after_upload:1"},
        "judge": {"JUDGE_CRASH_AT": "x", "batch_crash_at": "y"},  # any future hook, whatever its case
    }
    found = problems({"jobs": {job: {"extraEnv": env} for job, env in hooks.items()}})
    hook = "is a test-only fault-injection hook (the process kills itself on purpose): remove it"
    assert sorted(found) == sorted(
        f"llm-judge:gcp.jobs.{job}.extraEnv.{name}: {hook}" for job, env in hooks.items() for name in env
    )
    near = {"CRASH_AT_NIGHT": "no", "LOADER_CRASH_ATTEMPTS": "3"}  # other names stay free
    assert (
        load_stack_config({"gcp": {"jobs": {"judge": {"extraEnv": near}}}}).gcp.jobs.judge.extra_env == near
    )


def test_loader_variables_the_loader_would_refuse_are_a_config_error_not_a_failed_run_every_hour():
    found = problems({"jobs": {"loader": {"extraEnv": {"LOADER_IDLE_EXIT_SECONDS": "30"}}}})
    assert found == [
        "llm-judge:gcp.jobs.loader.extraEnv: the loader would refuse this at start: LOADER_IDLE_EXIT_SECONDS "
        "(30) must be at least KAFKA_SESSION_TIMEOUT_MS + KAFKA_HEARTBEAT_INTERVAL_MS + "
        "LOADER_SHUTDOWN_GRACE_SECONDS (55 s): a killed member keeps its partitions until its session times "
        "out, and a shorter wait gives up before they move; raise LOADER_IDLE_EXIT_SECONDS or lower "
        "KAFKA_SESSION_TIMEOUT_MS"
    ]
    (bad_type,) = problems({"jobs": {"loader": {"extraEnv": {"LOADER_ROTATION_BYTES": "lots"}}}})
    assert "LOADER_ROTATION_BYTES (--rotation-bytes): Input should be a valid integer" in bad_type
    # The 180 s the stack sets with a VPC network counts too: a longer session needs a longer wait.
    vpc = {"network": {"network": "kafka-vpc"}}
    (too_short,) = problems({"jobs": {"loader": {**vpc, "extraEnv": {"KAFKA_SESSION_TIMEOUT_MS": "200000"}}}})
    assert "LOADER_IDLE_EXIT_SECONDS (180) must be at least" in too_short
    fine = {"KAFKA_SESSION_TIMEOUT_MS": "200000", "LOADER_IDLE_EXIT_SECONDS": "240", "OTHER_VAR": "x"}
    loaded = load_stack_config({"gcp": {"jobs": {"loader": {**vpc, "extraEnv": fine}}}})
    assert loaded.gcp.jobs.loader.extra_env == fine


def test_sasl_mechanism_goes_with_a_sasl_protocol_only():
    assert one_problem({"kafka": {"securityProtocol": "SASL_SSL", "saslMechanism": None}}) == (
        "llm-judge:gcp.kafka.saslMechanism: required with SASL_SSL"
    )
    assert one_problem({"kafka": {"securityProtocol": "SSL", "saslMechanism": "PLAIN"}}).startswith(
        "llm-judge:gcp.kafka.saslMechanism: only applies to a SASL_* securityProtocol"
    )
    # Left at its default, the mechanism is simply not used without SASL.
    cfg = load_stack_config({"gcp": {"kafka": {"securityProtocol": "SSL"}}})
    assert cfg.gcp.kafka.mechanism is None


@pytest.mark.parametrize("broker", ["kafka-0", "kafka-0:", "http://kafka-0:9092", "kafka 0:9092"])
def test_brokers_are_host_port(broker):
    assert one_problem({"kafka": {"brokers": [broker]}}).startswith(
        "llm-judge:gcp.kafka.brokers[0]: must be HOST:PORT"
    )


def test_existing_bucket_excludes_creation_settings():
    found = problems(
        {"bucket": {"existingName": "shared-history", "name": "mine", "lifecycle": [], "versioning": True}}
    )
    assert set(found) == {
        "llm-judge:gcp.bucket.name: set either name (create) or existingName (use), not both",
        "llm-judge:gcp.bucket.lifecycle: only applies to a bucket the stack creates (existingName is set)",
        "llm-judge:gcp.bucket.versioning: only applies to a bucket the stack creates (existingName is set)",
    }


def test_lifecycle_rules_that_would_delete_pipeline_input_too_early_are_rejected():
    message = one_problem({"bucket": {"lifecycle": [{"prefix": "raw/", "deleteAfterDays": 2}]}})
    assert message.startswith(
        "llm-judge:gcp.bucket.lifecycle[0].deleteAfterDays: 2 days is too short for 'raw/'"
    )
    load_stack_config({"gcp": {"bucket": {"lifecycle": [{"prefix": "deadletter/", "deleteAfterDays": 1}]}}})


def test_lifecycle_prefixes_are_unique_and_end_with_a_slash():
    found = problems(
        {
            "bucket": {
                "lifecycle": [
                    {"prefix": "raw/", "deleteAfterDays": 9},
                    {"prefix": "raw/", "deleteAfterDays": 8},
                ]
            }
        }
    )
    assert found == ["llm-judge:gcp.bucket.lifecycle[1].prefix: 'raw/' has two rules"]
    assert one_problem({"bucket": {"lifecycle": [{"prefix": "raw", "deleteAfterDays": 9}]}}).startswith(
        "llm-judge:gcp.bucket.lifecycle[0].prefix: must be an object name prefix ending in '/'"
    )


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("project", "My_Project"),
        ("region", "us central"),
        ("namePrefix", "dev"),
        ("labels", {"Env": "dev"}),
        ("labels", {"team": "Team.Dev"}),
        ("bucket", {"name": "goog-bucket"}),
    ],
)
def test_gcp_names_are_validated(key, value):
    assert one_problem({key: value}).startswith(f"llm-judge:gcp.{key}")


def test_label_values_follow_googles_rule_international_letters_included():
    labels = {"team": "équipe-nord", "site": "東京", "env": "dev_1"}
    assert load_stack_config({"gcp": {"labels": labels}, "aws": {"enabled": False}}).gcp.labels == labels
    assert "at most 63 characters" in one_problem({"labels": {"team": "a" * 64}})


def test_required_keys_are_listed_when_the_half_is_built_not_when_it_loads():
    g = GcpConfig()
    assert g.missing(default_project=None) == [
        ("project", "required: the GCP project to deploy to (or set gcp:project)"),
        ("kafka.brokers", "required: at least one HOST:PORT bootstrap broker"),
    ]
    assert [k for k, _ in g.missing(default_project="from-gcp-project")] == ["kafka.brokers"]
    complete = GcpConfig.model_validate(merged(gcp_block("dev"), {}))
    assert complete.missing(default_project=None) == []


def test_the_collect_job_must_run_the_collect_command():
    assert one_problem({"jobs": {"collect": {"args": ["submit"]}}}) == (
        "llm-judge:gcp.jobs.collect.args: must start with the collect command, got 'submit'"
    )
    assert GcpConfig().schedules.collect.cron == "0 23 * * *"


def test_a_collect_schedule_on_another_utc_day_than_the_judge_is_rejected():
    # 02:00 and 23:00 Los Angeles time are 10:00 and 07:00 (next day) in UTC: collect's "yesterday"
    # would be the day the judge submits only after it.
    message = one_problem({"schedules": {"timeZone": "America/Los_Angeles"}})
    assert message.startswith("llm-judge:gcp.schedules.collect.cron: the judge submits at ")
    assert "a different UTC day" in message
    # The same local times are fine where they fall on one UTC day, and so is a fitting collect time.
    load_stack_config({"gcp": {"schedules": {"timeZone": "Europe/Berlin"}}, "aws": {"enabled": False}})
    load_stack_config(
        {
            "gcp": {"schedules": {"timeZone": "America/Los_Angeles", "collect": {"cron": "0 15 * * *"}}},
            "aws": {"enabled": False},
        }
    )
    # Without a collect job there is nothing to agree with.
    load_stack_config(
        {
            "gcp": {
                "schedules": {"timeZone": "America/Los_Angeles"},
                "jobs": {"collect": {"enabled": False}},
            },
            "aws": {"enabled": False},
        }
    )


def test_a_prefixed_repository_id_must_fit_artifact_registrys_limit():
    message = one_problem({"namePrefix": "team-a-dev-", "images": {"repositoryId": "r" * 60}})
    assert message.startswith("llm-judge:gcp.images.repositoryId: with namePrefix 'team-a-dev-'")


@pytest.mark.parametrize(
    ("judge", "key", "said"),
    [
        (
            {"modelId": "publishers/google/models/gemini-2.5-flash"},
            "modelId",
            "gemini-2.5-flash is retired since 2026-10-20 (https://docs.cloud.google.com/gemini-enterprise-"
            "agent-platform/models/model-versions); models that work in global: gemini-3.5-flash-lite, "
            "gemini-3.8-flash, gemini-3.7-flash",
        ),
        (
            {"location": "us-central1"},
            "location",
            "gemini-3.5-flash-lite is not served in us-central1 (only in global, us, eu): set location to "
            "one of those",
        ),
        (
            {"modelId": "publishers/google/models/gemini-3.5-flash"},
            "modelId",
            "gemini-3.5-flash does not run batch jobs; models that work in global: gemini-3.5-flash-lite",
        ),
        (
            {"modelId": "publishers/google/models/gemini-9-ultra"},
            "modelId",
            "publishers/google/models/gemini-9-ultra is not in the model catalogue "
            "(app/batch_job/gemini_models.yaml): choose one of gemini-3.5-flash-lite",
        ),
    ],
)
def test_a_model_or_location_the_catalogue_says_will_not_work_is_refused_naming_what_will(judge, key, said):
    """The canary (then Vertex AI) would refuse it at the first nightly run; the plan says so first."""
    found = one_problem({"jobs": {"judge": judge}})
    assert found.startswith(f"llm-judge:gcp.jobs.judge.{key}: ")
    assert said in found


def test_a_prompt_whose_thinking_intent_does_not_translate_is_refused_at_plan_time(tmp_path):
    from components.config.gcp_judge_job import REPO_ROOT, _model_problems, plan_date

    prompt = tmp_path / "off.prompt.yml"
    text = (REPO_ROOT / "prompts/security-judge.prompt.yml").read_text()
    prompt.write_text(text.replace("thinkingLevel: minimal", "thinkingLevel: off"))
    found = _model_problems("publishers/google/models/gemini-3.8-flash", "global", str(prompt), plan_date())
    ((key, message),) = found
    assert key == "modelId"
    assert "gemini-3.8-flash does not fit" in message
    assert (
        "cannot turn thinking off and its lowest level is low; set modelParameters.thinkingLevel" in message
    )


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_both_stacks_choose_a_current_model_in_a_location_that_serves_it(stack):
    from app.batch_job.catalogue import choice_problems, lookup
    from components.config.gcp_judge_job import plan_date

    judge = gcp_block(stack)["jobs"]["judge"]
    model = lookup(judge["modelId"])
    assert model is not None
    assert model.lifecycle(plan_date()) == "current"
    assert choice_problems(judge["modelId"], judge["location"], plan_date()) == []


def test_the_stack_s_defaults_are_the_batch_job_s():
    from app.batch_job import settings
    from components.config import gcp_judge_job

    assert gcp_judge_job.DEFAULT_MODEL_ID == settings.DEFAULT_MODEL_ID
    assert gcp_judge_job.DEFAULT_LOCATION == settings.DEFAULT_LOCATION


@pytest.mark.parametrize("prompt", ["prompts/security-judge.prompt.yml", "prompts/judge.prompt.yml"])
def test_the_shipped_prompts_fit_the_default_model(prompt):
    cfg = load_stack_config({"gcp": {"jobs": {"judge": {"promptPath": prompt}}}, "aws": {"enabled": False}})
    assert cfg.gcp.jobs.judge.prompt_path == prompt


def test_retry_backoffs_must_not_cross():
    retry = {"minBackoffSeconds": 20, "maxBackoffSeconds": 10}
    assert one_problem({"schedules": {"retry": retry}}) == (
        "llm-judge:gcp.schedules.retry.minBackoffSeconds: 20 is greater than maxBackoffSeconds 10"
    )
    equal = {"minBackoffSeconds": 10, "maxBackoffSeconds": 10}
    loaded = load_stack_config({"gcp": {"schedules": {"retry": equal}}, "aws": {"enabled": False}})
    assert loaded.gcp.schedules.retry.max_backoff_seconds == 10


def test_a_missing_key_is_named_without_echoing_its_section():
    assert one_problem({"schedules": {"loader": {"paused": True}}}) == (
        "llm-judge:gcp.schedules.loader.cron: Field required"
    )


def test_the_loaded_config_cannot_be_changed():
    """Components receive config, they never change it (ConfigModel is frozen)."""
    config = load_stack_config({"gcp": {"enabled": False}})
    with pytest.raises(ValueError, match="frozen"):
        config.gcp.region = "europe-west1"  # type: ignore[misc]
