"""The pure builders: scheduler target, retry settings, lifecycle, cleanup policies, env, IAM conditions."""

from __future__ import annotations

import datetime as dt

import pytest

from app.batch_job.gcs import GcsPath
from app.batch_job.layout import DayLayout
from app.loader.naming import MANIFEST_ROOT
from app.records import deadletter_prefix, raw_prefix
from components.config import GcpConfig
from components.config.gcp_bucket import BucketConfig
from components.config.gcp_images import ImagesConfig
from components.config.gcp_judge_job import JudgeJobConfig
from components.config.gcp_kafka import KafkaConfig
from components.config.gcp_loader_job import LoaderJobConfig
from components.config.gcp_schedules import RetryConfig
from components.gcp.builders import iam, layout
from components.gcp.builders.jobs import SecretRef, job_template, judge_env, loader_env
from components.gcp.builders.names import Names, account_email, vertex_agent_email
from components.gcp.builders.registry import cleanup_policies, image_name, pinned
from components.gcp.builders.scheduler import CLOUD_PLATFORM_SCOPE, http_target, retry_config, run_uri
from components.gcp.builders.storage import lifecycle_rules

DAY = dt.date(2025, 3, 4)


def test_run_uri_is_the_cloud_run_admin_api_run_method_of_the_job():
    assert run_uri("proj-1", "us-central1", "interaction-loader") == (
        "https://run.googleapis.com/v2/projects/proj-1/locations/us-central1/jobs/interaction-loader:run"
    )


@pytest.mark.parametrize("job", ["", "projects/p/locations/r/jobs/j"])
def test_run_uri_refuses_a_full_resource_name_or_nothing(job):
    with pytest.raises(ValueError, match="job must be a plain name"):
        run_uri("p", "us-central1", job)


def test_http_target_posts_with_an_oauth_token_of_the_invoker_not_oidc():
    target = http_target("https://run.googleapis.com/v2/x:run", "inv@p.iam.gserviceaccount.com")
    assert target["http_method"] == "POST"
    assert target["oauth_token"] == {
        "service_account_email": "inv@p.iam.gserviceaccount.com",
        "scope": CLOUD_PLATFORM_SCOPE,
    }
    assert "oidc_token" not in target


def test_retry_config_uses_google_durations():
    cfg = RetryConfig(retry_count=2, min_backoff_seconds=5, max_backoff_seconds=60, max_doublings=3)
    assert retry_config(cfg) == {
        "retry_count": 2,
        "min_backoff_duration": "5s",
        "max_backoff_duration": "60s",
        "max_doublings": 3,
        "max_retry_duration": "0s",
    }


def test_lifecycle_has_one_delete_rule_per_prefix():
    rules = lifecycle_rules(BucketConfig())
    assert rules == [
        {"action": {"type": "Delete"}, "condition": {"age": 90, "matches_prefixes": ["raw/"]}},
        {"action": {"type": "Delete"}, "condition": {"age": 30, "matches_prefixes": ["batch/"]}},
        {"action": {"type": "Delete"}, "condition": {"age": 30, "matches_prefixes": ["deadletter/"]}},
        {"action": {"type": "Delete"}, "condition": {"age": 90, "matches_prefixes": ["_loader/"]}},
    ]


def test_versioning_adds_a_rule_for_replaced_versions():
    rules = lifecycle_rules(BucketConfig(versioning=True, noncurrent_version_days=3))
    assert rules[-1] == {
        "action": {"type": "Delete"},
        "condition": {"days_since_noncurrent_time": 3, "with_state": "ARCHIVED"},
    }


def test_cleanup_keeps_recent_versions_and_deletes_only_old_untagged_ones():
    keep, delete = cleanup_policies(ImagesConfig(keep_recent_versions=7, delete_untagged_after_days=2))
    assert keep == {"id": "keep-recent", "action": "KEEP", "most_recent_versions": {"keep_count": 7}}
    assert delete["action"] == "DELETE"
    assert delete["condition"] == {"tag_state": "UNTAGGED", "older_than": "172800s"}


def test_images_are_pinned_by_digest():
    name = image_name("us-central1", "p", "flash-cache-repo", "loader")
    assert name == "us-central1-docker.pkg.dev/p/flash-cache-repo/loader"
    digest = "sha256:" + "b" * 64
    assert pinned(f"{name}:dev", digest) == f"{name}:dev@{digest}"
    with pytest.raises(ValueError, match="not an image digest"):
        pinned(f"{name}:dev", "")


def test_loader_env_is_the_seeds_plus_kafka_security_and_secret_references():
    kafka = KafkaConfig(brokers=["a:9093", "b:9093"])
    user = SecretRef("kafka-sasl-username", "3")
    password = SecretRef("kafka-sasl-password", "4")
    env = loader_env(
        project="p", bucket="b", kafka=kafka, username=user, password=password, job=LoaderJobConfig()
    )
    assert [e["name"] for e in env] == [
        "GCP_PROJECT_ID",
        "GCS_BUCKET_NAME",
        "KAFKA_BROKERS",
        "KAFKA_TOPIC",
        "KAFKA_CONSUMER_GROUP",
        "KAFKA_SECURITY_PROTOCOL",
        "KAFKA_SASL_MECHANISM",
        "KAFKA_SASL_USERNAME",
        "KAFKA_SASL_PASSWORD",
    ]
    assert env[2] == {"name": "KAFKA_BROKERS", "value": "a:9093,b:9093"}
    assert env[8] == {
        "name": "KAFKA_SASL_PASSWORD",
        "value_source": {"secret_key_ref": {"secret": "kafka-sasl-password", "version": "4"}},
    }
    assert all("value" not in e for e in env[7:])


def test_loader_env_without_sasl_has_no_credentials_or_mechanism():
    kafka = KafkaConfig(brokers=["a:9092"], security_protocol="PLAINTEXT")
    env = loader_env(
        project="p", bucket="b", kafka=kafka, username=None, password=None, job=LoaderJobConfig()
    )
    names = [e["name"] for e in env]
    assert "KAFKA_SASL_MECHANISM" not in names
    assert "KAFKA_SASL_USERNAME" not in names


def test_loader_env_refuses_half_the_credentials():
    with pytest.raises(ValueError, match="go together"):
        loader_env(
            project="p",
            bucket="b",
            kafka=KafkaConfig(brokers=["a:1"]),
            username=SecretRef("u", "1"),
            password=None,
            job=LoaderJobConfig(),
        )


def test_judge_env_is_exactly_the_seeds():
    env = judge_env(project="p", bucket="hist", job=JudgeJobConfig(), stack="dev")
    assert {e["name"]: e["value"] for e in env} == {
        "GCP_PROJECT": "p",
        "GCP_LOCATION": "global",
        "INPUT_BUCKET": "hist",
        "OUTPUT_BUCKET": "hist",
        "MODEL_ID": "publishers/google/models/gemini-3.5-flash-lite",
        "PROMPT_PATH": "prompts/security-judge.prompt.yml",
        "LLM_JUDGE_STACK": "dev",
    }


def test_extra_env_comes_after_the_stacks_own_sorted_by_name():
    job = JudgeJobConfig(extra_env={"Z_KNOB": "1", "A_KNOB": "2"})
    names = [e["name"] for e in judge_env(project="p", bucket="b", job=job, stack="dev")]
    assert names[-2:] == ["A_KNOB", "Z_KNOB"]


def test_job_template_carries_resources_timeout_retries_and_account():
    job = LoaderJobConfig(timeout_seconds=1200, max_retries=3, args=["--once"])
    t = job_template(
        container_name="c",
        image="img@sha256:x",
        service_account="sa@p",
        env=[],
        job=job,
        task_count=4,
        parallelism=2,
    )
    assert t["task_count"] == 4
    assert t["parallelism"] == 2
    inner = t["template"]
    assert inner["service_account"] == "sa@p"
    assert inner["timeout"] == "1200s"
    assert inner["max_retries"] == 3
    assert inner["containers"][0]["resources"] == {"limits": {"cpu": "1", "memory": "512Mi"}}
    assert inner["containers"][0]["args"] == ["--once"]


def test_job_template_leaves_args_to_the_image_by_default():
    t = job_template(container_name="c", image="i", service_account="s", env=[], job=JudgeJobConfig())
    assert "args" not in t["template"]["containers"][0]
    assert "parallelism" not in t


def test_prefix_conditions_name_the_bucket_and_each_prefix():
    grant = next(g for g in iam.BUCKET_GRANTS if g.principal == "loader" and g.role.endswith("objectCreator"))
    cond = iam.condition(grant, "hist")
    assert cond is not None
    assert cond["expression"] == (
        'resource.name.startsWith("projects/_/buckets/hist/objects/raw/") || '
        'resource.name.startsWith("projects/_/buckets/hist/objects/deadletter/") || '
        'resource.name.startsWith("projects/_/buckets/hist/objects/_loader/")'
    )
    assert len(cond["title"]) <= 100


def test_vertex_grants_suffice_without_its_service_agent_role():
    # Where roles/aiplatform.serviceAgent is trimmed (or the bucket is in another project), these are all
    # Vertex AI has: bucket metadata and listing, reading batch/, writing predictions under batch/.
    vertex = {(g.role, g.prefixes) for g in iam.BUCKET_GRANTS if g.principal == "vertex"}
    assert vertex == {
        ("roles/storage.legacyBucketReader", None),
        ("roles/storage.objectViewer", ("batch/",)),
        ("roles/storage.objectCreator", ("batch/",)),
    }


def test_object_conditions_only_match_object_names():
    for grant in iam.BUCKET_GRANTS:
        cond = iam.condition(grant, "hist")
        if grant.prefixes is None:
            assert cond is None
        else:
            clauses = cond["expression"].split(" || ")
            assert all(
                c.startswith('resource.name.startsWith("projects/_/buckets/hist/objects/') for c in clauses
            )


def test_no_primitive_role_can_be_declared():
    with pytest.raises(ValueError, match="primitive roles"):
        iam.check_no_primitive(["roles/run.invoker", "roles/editor"])


def test_the_loader_cannot_delete_or_replace_objects():
    roles = {g.role for g in iam.BUCKET_GRANTS if g.principal == "loader"}
    assert roles == {
        "roles/storage.legacyBucketReader",
        "roles/storage.objectCreator",
        "roles/storage.objectViewer",
    }


def test_writers_are_scoped_to_their_own_prefixes():
    writes = {
        (g.principal, p)
        for g in iam.BUCKET_GRANTS
        if g.role in ("roles/storage.objectCreator", "roles/storage.objectUser")
        for p in g.prefixes or ("<whole bucket>",)
    }
    assert writes == {
        ("loader", "raw/"),
        ("loader", "deadletter/"),
        ("loader", "_loader/"),
        ("batch", "batch/"),
        ("batch", "judgements/"),
        ("batch", "reports/"),
        ("vertex", "batch/"),
    }


def test_prefixes_agree_with_where_the_applications_write():
    assert raw_prefix("web", DAY).startswith(layout.RAW)
    assert deadletter_prefix(DAY).startswith(layout.DEADLETTER)
    assert f"{MANIFEST_ROOT}/".startswith(layout.LOADER_STATE)
    day = DayLayout(GcsPath("hist", ""), DAY)
    for path in (day.input_part(0), day.output_prefix(0), day.manifest, day.rejected):
        assert path.name.startswith(layout.BATCH), path
    for path in (day.results, day.summary, day.progress):
        assert path.name.startswith(layout.JUDGEMENTS), path
    for path in (day.report_page, day.report_json):
        assert path.name.startswith(layout.REPORTS), path


def test_default_lifecycle_covers_only_prefixes_the_applications_use():
    assert {r.prefix for r in GcpConfig().bucket.lifecycle} <= set(layout.ALL)


def test_names_keep_the_seed_and_take_a_prefix():
    assert Names().loader_job == "interaction-loader"
    assert Names().judge_job == "llm-judge-trigger"
    assert Names().loader_schedule == "trigger-loader-hourly"
    assert Names().judge_schedule == "trigger-judge-daily"
    assert Names().account_ids() == ["loader-sa", "batch-judge-sa", "job-invoker-sa"]
    prefixed = Names("longest-prefix-")
    assert all(6 <= len(a) <= 30 for a in prefixed.account_ids())
    assert prefixed.judge_job == "longest-prefix-llm-judge-trigger"


def test_member_strings():
    assert iam.member(account_email("loader-sa", "p")) == "serviceAccount:loader-sa@p.iam.gserviceaccount.com"
    assert vertex_agent_email("42") == "service-42@gcp-sa-aiplatform.iam.gserviceaccount.com"
