"""The GCP half rendered offline (tools.plan_runtime.render): every resource, and the policy a reviewer
checks before approving a preview: least privilege, no secret in the plan, the right job triggered."""

from __future__ import annotations

import json
import re

import pytest

from components.config import ConfigError
from components.gcp.builders.names import account_email
from components.gcp.services import SERVICES
from components.gcp_stack import DOCKERFILES
from tools.mock_outputs_gcp import PROJECT_NUMBER
from tools.plan_runtime import REPO_ROOT, SECRET, render

from .helpers import (
    ACCOUNT,
    BUCKET,
    BUCKET_IAM,
    CREDENTIALS,
    IAM_TYPES,
    IMAGE,
    PROJECT_IAM,
    REPOSITORY,
    RUN_JOB,
    RUN_JOB_IAM,
    SASL_PASSWORD,
    SASL_USER,
    SCHEDULER_JOB,
    SECRET_IAM,
    SECRET_VERSION,
    SERVICE,
    SERVICE_IDENTITY,
    container,
    env,
    gcp_block,
    in_component,
    job,
    render_gcp,
    schedule,
)
from .helpers import SECRET as SECRET_TYPE

pytestmark = pytest.mark.cost(11)

VERTEX_AGENT = f"serviceAccount:service-{PROJECT_NUMBER}@gcp-sa-aiplatform.iam.gserviceaccount.com"
DIGEST_REF = r"@sha256:[0-9a-f]{64}$"


@pytest.fixture(scope="module")
def dev():
    return render_gcp("dev", **CREDENTIALS)


@pytest.fixture(scope="module")
def prod():
    return render_gcp("prod", **CREDENTIALS)


def own_members(project: str) -> set[str]:
    ids = ["loader-sa", "batch-judge-sa", "job-invoker-sa"]
    return {f"serviceAccount:{account_email(i, project)}" for i in ids}


# --- structure ------------------------------------------------------------------------------------


def test_every_gcp_resource_belongs_to_a_gcp_component(dev):
    components = {r.urn: r for r in dev.resources if r.type.startswith("llm-judge:gcp:")}
    assert {r.type for r in components.values()} == {
        "llm-judge:gcp:ProjectServices",
        "llm-judge:gcp:HistoryBucket",
        "llm-judge:gcp:ServiceAccounts",
        "llm-judge:gcp:BucketAccess",
        "llm-judge:gcp:KafkaCredentials",
        "llm-judge:gcp:ContainerImages",
        "llm-judge:gcp:ScheduledJob",
        "llm-judge:gcp:Alerts",
    }
    for r in dev.resources:
        if r.type.startswith(("gcp:", "docker-build:")):
            assert r.parent in components, f"{r.type} {r.name} is not inside a GCP component"


def test_one_explicit_gcp_provider_from_config(dev):
    (provider,) = dev.of_type("pulumi:providers:gcp")
    assert provider.inputs["project"] == "llm-judge-dev"
    assert provider.inputs["region"] == "us-central1"
    assert json.loads(provider.inputs["defaultLabels"]) == {"llm-judge-stack": "dev", "env": "dev"}


def label_values(plan) -> dict[str, str]:
    """Every GCP label of the plan, ``resource name.key`` -> value: the provider's default labels and the
    resources' own (a notification channel's ``labels`` are its address, not resource labels)."""
    found: dict[str, str] = {}
    for r in plan.resources:
        if r.type == "pulumi:providers:gcp":
            labels = json.loads(r.inputs.get("defaultLabels", "{}"))
        elif r.type.startswith("gcp:") and r.type != "gcp:monitoring/notificationChannel:NotificationChannel":
            labels = {**r.inputs.get("labels", {}), **r.inputs.get("userLabels", {})}
        else:
            continue
        found.update({f"{r.name}.{key}": value for key, value in labels.items()})
    return found


@pytest.mark.parametrize("stack", ["dev", "prod", "Team.Dev"])
def test_every_label_is_valid_whatever_the_stacks_name(stack, dev, prod):
    # GCP refuses a resource whose label value holds '.' or capitals: a stack named Team.Dev must not.
    plan = {"dev": dev, "prod": prod}.get(stack) or render_gcp_as(stack)
    values = label_values(plan)
    assert any(key.endswith(".llm-judge-stack") for key in values), "no stack label in the plan"
    for key, value in values.items():
        assert re.fullmatch(r"[a-z0-9_-]{0,63}", value), f"{key}={value!r}"
    expected = {"dev": "dev", "prod": "prod", "Team.Dev": "team-dev"}[stack]
    assert {v for k, v in values.items() if k.endswith(".llm-judge-stack")} == {expected}


def render_gcp_as(stack: str):
    """The dev stack's GCP half under another stack name (which has no stack file of its own)."""
    return render(stack, {"gcp": gcp_block("dev"), "aws": {"enabled": False}})


def test_services_are_enabled_and_never_disabled_on_destroy(dev):
    services = dev.of_type(SERVICE)
    assert {s.inputs["service"] for s in services} == set(SERVICES)
    assert {"run.googleapis.com", "cloudscheduler.googleapis.com", "aiplatform.googleapis.com"} <= set(
        SERVICES
    )
    assert {"artifactregistry.googleapis.com", "secretmanager.googleapis.com", "iam.googleapis.com"} <= set(
        SERVICES
    )
    for s in services:
        assert s.inputs["disableOnDestroy"] is False, s.name
        assert s.inputs["project"] == "llm-judge-dev"


def test_services_can_be_left_to_an_admin():
    plan = render_gcp("dev", {"manageServices": False}, **CREDENTIALS)
    assert plan.of_type(SERVICE) == []
    assert plan.of_type(RUN_JOB)


# --- bucket ---------------------------------------------------------------------------------------


def test_bucket_is_private_uniform_and_expires_per_prefix(dev):
    bucket = dev.one(BUCKET).inputs
    assert bucket["name"] == "llm-judge-dev-llm-judge-history"
    assert bucket["location"] == "US-CENTRAL1"
    assert bucket["uniformBucketLevelAccess"] is True
    assert bucket["publicAccessPrevention"] == "enforced"
    assert bucket["versioning"] == {"enabled": False}
    rules = {
        tuple(r["condition"]["matchesPrefixes"]): r["condition"]["age"] for r in bucket["lifecycleRules"]
    }
    assert rules == {("raw/",): 14, ("batch/",): 7, ("deadletter/",): 7, ("_loader/",): 14}
    assert all(r["action"] == {"type": "Delete"} for r in bucket["lifecycleRules"])


def test_bucket_force_destroy_only_in_dev(dev, prod):
    assert dev.one(BUCKET).inputs["forceDestroy"] is True
    assert prod.one(BUCKET).inputs["forceDestroy"] is False


def test_an_existing_bucket_is_used_not_created():
    block = {**gcp_block("dev"), "bucket": {"existingName": "shared-history"}}
    plan = render("dev", {"gcp": block, "aws": {"enabled": False}})
    assert plan.of_type(BUCKET) == []
    assert {b.inputs["bucket"] for b in plan.of_type(BUCKET_IAM)} == {"shared-history"}
    assert env(plan, "loader")["GCS_BUCKET_NAME"] == "shared-history"
    assert env(plan, "judge")["INPUT_BUCKET"] == "shared-history"
    assert plan.outputs["gcp_bucket_name"] == "shared-history"
    assert plan.outputs["gcp_bucket_url"] == "gs://shared-history"


def test_an_existing_bucket_without_uniform_access_stops_the_run_before_any_grant():
    # tools/mock_outputs_gcp.py answers the bucket lookup for *-fine-grained as a bucket with ACLs.
    block = {**gcp_block("dev"), "bucket": {"existingName": "legacy-history-fine-grained"}}
    with pytest.raises(ConfigError) as info:
        render("dev", {"gcp": block, "aws": {"enabled": False}})
    (message,) = info.value.problems
    assert message.startswith(
        "llm-judge:gcp.bucket.existingName: bucket 'legacy-history-fine-grained' does not have uniform"
    )
    assert "--uniform-bucket-level-access" in message


# --- IAM policy -----------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_no_storage_role_is_bound_at_project_level(stack, dev, prod):
    plan = {"dev": dev, "prod": prod}[stack]
    assert plan.of_type(PROJECT_IAM), "no project-level binding found: the type token may have changed"
    for binding in plan.of_type(PROJECT_IAM):
        assert not binding.inputs["role"].startswith("roles/storage."), binding.name


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_only_project_level_role_is_vertex_use_and_nobody_may_write_logs(stack, dev, prod):
    # Cloud Run ships the jobs' stdout without any role; a log writer could forge what the metrics count.
    plan = {"dev": dev, "prod": prod}[stack]
    project_roles = {(b.inputs["member"], b.inputs["role"]) for b in plan.of_type(PROJECT_IAM)}
    batch = f"serviceAccount:{account_email('batch-judge-sa', f'llm-judge-{stack}')}"
    assert project_roles == {(batch, "roles/aiplatform.user")}
    roles = {r.inputs["role"] for r in plan.resources if r.type in IAM_TYPES}
    assert not {role for role in roles if role.startswith("roles/logging.")}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_no_primitive_role_anywhere(stack, dev, prod):
    plan = {"dev": dev, "prod": prod}[stack]
    bindings = [r for r in plan.resources if r.type in IAM_TYPES]
    assert bindings
    for r in bindings:
        assert r.inputs["role"] not in ("roles/owner", "roles/editor", "roles/viewer"), r.name


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_iam_member_is_the_stacks_own_account_or_vertex_ais_agent(stack, dev, prod):
    plan = {"dev": dev, "prod": prod}[stack]
    allowed = own_members(f"llm-judge-{stack}") | {VERTEX_AGENT}
    bindings = [r for r in plan.resources if r.type in IAM_TYPES]
    assert bindings
    for b in bindings:
        assert b.inputs["member"] in allowed, f"{b.type} {b.name}: {b.inputs['member']}"


def test_the_vertex_agent_is_made_to_exist_before_it_is_granted(dev):
    identity = dev.one(SERVICE_IDENTITY)
    assert identity.inputs["service"] == "aiplatform.googleapis.com"
    vertex = [b for b in dev.of_type(BUCKET_IAM) if b.inputs["member"] == VERTEX_AGENT]
    assert {b.inputs["role"] for b in vertex} == {
        "roles/storage.legacyBucketReader",
        "roles/storage.objectViewer",
        "roles/storage.objectCreator",
    }
    for b in vertex:
        if b.inputs["role"] == "roles/storage.legacyBucketReader":
            assert "condition" not in b.inputs  # bucket metadata and names: nothing to scope by prefix
            continue
        expression = b.inputs["condition"]["expression"]
        assert "/objects/batch/" in expression
        assert "/objects/raw/" not in expression
        assert "/objects/judgements/" not in expression


def test_storage_grants_are_on_the_bucket_and_writes_are_prefix_scoped(dev):
    bucket = "llm-judge-dev-llm-judge-history"
    writers = 0
    for b in dev.of_type(BUCKET_IAM):
        assert b.inputs["bucket"] == bucket
        if b.inputs["role"] in ("roles/storage.objectCreator", "roles/storage.objectUser"):
            expression = b.inputs["condition"]["expression"]
            assert f'"projects/_/buckets/{bucket}/objects/' in expression, b.name
            writers += 1
    assert writers > 0, "no write grant found: nothing was checked"


def test_the_batch_account_writes_batch_and_judgements_only(dev):
    batch = f"serviceAccount:{account_email('batch-judge-sa', 'llm-judge-dev')}"
    (writer,) = [
        b
        for b in dev.of_type(BUCKET_IAM)
        if b.inputs["member"] == batch and b.inputs["role"] == "roles/storage.objectUser"
    ]
    expression = writer.inputs["condition"]["expression"]
    assert "/objects/batch/" in expression
    assert "/objects/judgements/" in expression
    assert "/objects/raw/" not in expression


def test_secret_accessor_is_bound_only_on_the_kafka_secrets_and_only_for_the_loader(dev):
    accessors = dev.of_type(SECRET_IAM)
    assert {a.inputs["secretId"] for a in accessors} == {"kafka-sasl-username", "kafka-sasl-password"}
    for a in accessors:
        assert a.inputs["role"] == "roles/secretmanager.secretAccessor"
        assert a.inputs["member"] == f"serviceAccount:{account_email('loader-sa', 'llm-judge-dev')}"
    roles = [r.inputs["role"] for r in dev.resources if r.type in (PROJECT_IAM, BUCKET_IAM, RUN_JOB_IAM)]
    assert not any(role.startswith("roles/secretmanager.") for role in roles)


def test_the_invoker_may_only_run_the_pipelines_jobs(dev):
    invoker = f"serviceAccount:{account_email('job-invoker-sa', 'llm-judge-dev')}"
    grants = [r for r in dev.resources if r.type in IAM_TYPES and r.inputs["member"] == invoker]
    assert {(g.type, g.inputs["name"], g.inputs["role"]) for g in grants} == {
        (RUN_JOB_IAM, "interaction-loader", "roles/run.invoker"),
        (RUN_JOB_IAM, "llm-judge-trigger", "roles/run.invoker"),
        (RUN_JOB_IAM, "llm-judge-collect", "roles/run.invoker"),
    }


def test_three_service_accounts_with_the_seed_ids(dev):
    assert sorted(a.inputs["accountId"] for a in dev.of_type(ACCOUNT)) == [
        "batch-judge-sa",
        "job-invoker-sa",
        "loader-sa",
    ]


# --- secrets --------------------------------------------------------------------------------------


def test_the_kafka_credentials_are_two_secret_manager_secrets_with_masked_values(dev):
    assert sorted(s.inputs["secretId"] for s in dev.of_type(SECRET_TYPE)) == [
        "kafka-sasl-password",
        "kafka-sasl-username",
    ]
    for version in dev.of_type(SECRET_VERSION):
        assert version.inputs["secretData"] == SECRET


def test_rotating_a_credential_keeps_the_old_version_readable_for_running_executions(dev):
    # A changed credential replaces its SecretVersion; the default policy would delete the old one
    # while a task that started before still retries with it.
    versions = dev.of_type(SECRET_VERSION)
    assert len(versions) == 2
    for version in versions:
        assert version.inputs["deletionPolicy"] == "ABANDON", version.name


def test_the_loader_job_waits_for_its_secret_grants(dev):
    # Cloud Run checks at deploy time that the job's account may read the secrets it references
    # (hashicorp/terraform-provider-google#13786): the job must be created after both grants.
    grants = {b.urn for b in dev.of_type(SECRET_IAM)}
    assert len(grants) == 2
    assert grants <= set(job(dev, "loader").depends_on)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_offline_plan_never_shows_the_sasl_credentials(stack, dev, prod):
    plan = {"dev": dev, "prod": prod}[stack]
    text = json.dumps(plan.to_json()) + json.dumps(plan.diagnostics)
    assert SASL_PASSWORD not in text
    assert SASL_USER not in text


def test_a_stack_file_with_encrypted_credentials_plans_without_them(tmp_path):
    data = {
        "config": {
            "llm-judge:aws": {"enabled": False},
            "llm-judge:gcp": gcp_block("dev"),
            "llm-judge:kafkaSaslUsername": {"secure": "v1:AAAA"},
            "llm-judge:kafkaSaslPassword": {"secure": "v1:BBBB"},
        }
    }
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(json.dumps(data))
    plan = render("dev", config_file=path, use_cache=False)
    loader_env = env(plan, "loader")
    assert loader_env["KAFKA_SASL_PASSWORD"] == {
        "secretKeyRef": {"secret": "kafka-sasl-password", "version": "1"}
    }
    assert "offline-fake-secret" not in json.dumps(plan.to_json())


def test_no_secret_resources_without_credentials():
    plan = render_gcp("dev", {"kafka": {"securityProtocol": "PLAINTEXT", "saslMechanism": None}})
    assert plan.of_type(SECRET_TYPE) == []
    assert plan.of_type(SECRET_IAM) == []
    assert not any(name.startswith("KAFKA_SASL") for name in env(plan, "loader"))


def test_sasl_without_credentials_plans_with_a_warning_naming_the_keys():
    plan = render_gcp("dev")
    assert plan.of_type(SECRET_TYPE) == []
    warnings = [m for sev, m in plan.diagnostics if sev == "warning"]
    assert any(
        m.startswith("llm-judge:kafkaSaslUsername: not set") and "kafkaSaslPassword" in m for m in warnings
    )


# --- jobs -----------------------------------------------------------------------------------------


def test_loader_env_matches_the_seed_exactly(dev):
    assert env(dev, "loader") == {
        "GCP_PROJECT_ID": "llm-judge-dev",
        "GCS_BUCKET_NAME": "llm-judge-dev-llm-judge-history",
        "KAFKA_BROKERS": "kafka-0.dev.example.internal:9093",
        "KAFKA_TOPIC": "raw-interactions",
        "KAFKA_CONSUMER_GROUP": "gcs-loader-v1",
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SASL_USERNAME": {"secretKeyRef": {"secret": "kafka-sasl-username", "version": "1"}},
        "KAFKA_SASL_PASSWORD": {"secretKeyRef": {"secret": "kafka-sasl-password", "version": "1"}},
        # dev reaches its brokers through Direct VPC egress, whose first connection can be slow.
        "LOADER_IDLE_EXIT_SECONDS": "180",
    }


def test_loader_reaches_private_brokers_through_direct_vpc_egress(dev, prod):
    for plan in (dev, prod):
        assert job(plan, "loader").inputs["template"]["template"]["vpcAccess"] == {
            "egress": "PRIVATE_RANGES_ONLY",
            "networkInterfaces": [
                {
                    "network": "kafka-vpc",
                    "subnetwork": "kafka-clients-us-central1",
                    "tags": ["interaction-loader"],
                }
            ],
        }
        for which in ("judge", "collect"):
            assert "vpcAccess" not in job(plan, which).inputs["template"]["template"], which


def test_without_a_network_the_loader_has_no_vpc_access_and_the_apps_idle_exit():
    plan = render_gcp("dev", {"jobs": {"loader": {"network": None}}})
    assert "vpcAccess" not in job(plan, "loader").inputs["template"]["template"]
    assert "LOADER_IDLE_EXIT_SECONDS" not in env(plan, "loader")


def test_a_shared_vpc_subnet_with_all_traffic_and_an_explicit_idle_exit():
    subnet = "projects/host-project-1/regions/us-central1/subnetworks/kafka"
    plan = render_gcp(
        "dev",
        {
            "jobs": {
                "loader": {
                    "network": {"network": None, "subnetwork": subnet, "egress": "ALL_TRAFFIC", "tags": []},
                    "extraEnv": {"LOADER_IDLE_EXIT_SECONDS": "300"},
                }
            }
        },
    )
    assert job(plan, "loader").inputs["template"]["template"]["vpcAccess"] == {
        "egress": "ALL_TRAFFIC",
        "networkInterfaces": [{"subnetwork": subnet}],
    }
    assert env(plan, "loader")["LOADER_IDLE_EXIT_SECONDS"] == "300"


def test_judge_env_matches_the_seed_exactly(dev):
    assert env(dev, "judge") == {
        "GCP_PROJECT": "llm-judge-dev",
        "GCP_LOCATION": "global",
        "INPUT_BUCKET": "llm-judge-dev-llm-judge-history",
        "OUTPUT_BUCKET": "llm-judge-dev-llm-judge-history",
        "MODEL_ID": "publishers/google/models/gemini-3.5-flash-lite",
        "PROMPT_PATH": "prompts/security-judge.prompt.yml",
        "LLM_JUDGE_STACK": "dev",
    }


def test_jobs_run_as_their_own_accounts_with_seed_names_and_resources(prod):
    loader, judge = job(prod, "loader").inputs, job(prod, "judge").inputs
    assert loader["name"] == "interaction-loader"
    assert judge["name"] == "llm-judge-trigger"
    assert loader["template"]["template"]["serviceAccount"] == account_email("loader-sa", "llm-judge-prod")
    assert judge["template"]["template"]["serviceAccount"] == account_email(
        "batch-judge-sa", "llm-judge-prod"
    )
    assert container(prod, "loader")["resources"] == {"limits": {"cpu": "1", "memory": "512Mi"}}
    assert loader["template"]["taskCount"] == 3
    assert loader["template"]["template"]["timeout"] == "1000s"
    assert loader["template"]["template"]["maxRetries"] == 2
    assert judge["template"]["template"]["timeout"] == "3600s"


def test_loader_parallelism_from_config():
    # Two waves of tasks: each wave's attempts must fit the hour too (2 x 2 x 800 s).
    plan = render_gcp("dev", {"jobs": {"loader": {"taskCount": 4, "parallelism": 2, "timeoutSeconds": 800}}})
    template = job(plan, "loader").inputs["template"]
    assert (template["taskCount"], template["parallelism"]) == (4, 2)


def test_deletion_protection_is_per_stack(dev, prod):
    for which in ("loader", "judge"):
        assert job(dev, which).inputs["deletionProtection"] is False
        assert job(prod, which).inputs["deletionProtection"] is True


def test_jobs_run_the_built_images_pinned_by_digest(dev):
    images = {i.name: i.inputs for i in dev.of_type(IMAGE)}
    assert {name: i["dockerfile"]["location"] for name, i in images.items()} == {
        "gcp-images-loader": "build/Dockerfile.loader",
        "gcp-images-batch-judge": "build/Dockerfile.batch-job",
    }
    for inputs in images.values():
        assert inputs["push"] is True
        assert inputs["context"] == {"location": "."}
        assert inputs["registries"][0]["address"] == "us-central1-docker.pkg.dev"
        assert inputs["registries"][0]["password"] == SECRET
    loader_image = container(dev, "loader")["image"]
    assert loader_image.startswith(
        "us-central1-docker.pkg.dev/llm-judge-dev/flash-cache-repo/loader:dev@sha256:"
    )
    judge_image = container(dev, "judge")["image"]
    assert judge_image.startswith(
        "us-central1-docker.pkg.dev/llm-judge-dev/flash-cache-repo/batch-judge:dev@sha256:"
    )
    assert dev.outputs["gcp_loader_image"] == loader_image


def test_the_registry_has_cleanup_policies(dev):
    repo = dev.one(REPOSITORY).inputs
    assert repo["repositoryId"] == "flash-cache-repo"
    assert repo["format"] == "DOCKER"
    assert {p["action"] for p in repo["cleanupPolicies"]} == {"KEEP", "DELETE"}


def test_existing_images_are_used_verbatim_and_nothing_is_built():
    loader = "us-central1-docker.pkg.dev/shared/images/loader@sha256:" + "c" * 64
    judge = "us-central1-docker.pkg.dev/shared/images/batch-judge:v1.4.0"
    plan = render_gcp("dev", {"jobs": {"loader": {"image": loader}, "judge": {"image": judge}}})
    assert plan.of_type(IMAGE) == []
    assert plan.of_type(REPOSITORY) == []
    assert container(plan, "loader")["image"] == loader
    assert container(plan, "judge")["image"] == judge


@pytest.mark.parametrize("image", sorted(DOCKERFILES))
def test_the_dockerfiles_the_stack_builds_exist(image):
    assert (REPO_ROOT / DOCKERFILES[image]).is_file(), DOCKERFILES[image]


def test_one_existing_image_still_builds_the_other():
    judge = "us-central1-docker.pkg.dev/shared/images/batch-judge:v1.4.0"
    plan = render_gcp("dev", {"jobs": {"judge": {"image": judge}}})
    assert [i.name for i in plan.of_type(IMAGE)] == ["gcp-images-loader"]


# --- schedules ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("which", "job_name", "cron", "schedule_name"),
    [
        ("loader", "interaction-loader", "0 * * * *", "trigger-loader-hourly"),
        ("judge", "llm-judge-trigger", "0 2 * * *", "trigger-judge-daily"),
    ],
)
def test_each_schedule_runs_its_own_job_with_the_invokers_oauth_token(
    dev, which, job_name, cron, schedule_name
):
    s = schedule(dev, which).inputs
    assert s["name"] == schedule_name
    assert s["schedule"] == cron
    assert s["timeZone"] == "UTC"
    assert s["region"] == "us-central1"
    target = s["httpTarget"]
    assert target["uri"] == (
        f"https://run.googleapis.com/v2/projects/llm-judge-dev/locations/us-central1/jobs/{job_name}:run"
    )
    assert target["httpMethod"] == "POST"
    assert "oidcToken" not in target
    assert target["oauthToken"] == {
        "serviceAccountEmail": account_email("job-invoker-sa", "llm-judge-dev"),
        "scope": "https://www.googleapis.com/auth/cloud-platform",
    }


def test_scheduler_retries_and_deadline_from_config(prod):
    s = schedule(prod, "judge").inputs
    assert s["attemptDeadline"] == "180s"
    assert s["retryConfig"] == {
        "retryCount": 3,
        "minBackoffDuration": "30s",
        "maxBackoffDuration": "600s",
        "maxDoublings": 4,
        "maxRetryDuration": "0s",
    }


def test_time_zone_and_pause_from_config():
    plan = render_gcp("dev", {"schedules": {"timeZone": "Europe/Berlin", "judge": {"paused": True}}})
    assert schedule(plan, "judge").inputs["timeZone"] == "Europe/Berlin"
    assert schedule(plan, "judge").inputs["paused"] is True
    assert schedule(plan, "loader").inputs["paused"] is False


def test_a_name_prefix_renames_everything_that_could_collide_in_a_shared_project():
    plan = render_gcp("dev", {"namePrefix": "dev-"}, **CREDENTIALS)
    assert job(plan, "loader").inputs["name"] == "dev-interaction-loader"
    assert schedule(plan, "judge").inputs["name"] == "dev-trigger-judge-daily"
    assert schedule(plan, "loader").inputs["httpTarget"]["uri"].endswith("/jobs/dev-interaction-loader:run")
    assert sorted(a.inputs["accountId"] for a in plan.of_type(ACCOUNT)) == [
        "dev-batch-judge-sa",
        "dev-job-invoker-sa",
        "dev-loader-sa",
    ]
    assert {s.inputs["secretId"] for s in plan.of_type(SECRET_TYPE)} == {
        "dev-kafka-sasl-username",
        "dev-kafka-sasl-password",
    }
    # Bucket names are global and repository ids per project: both would collide too.
    assert plan.one(BUCKET).inputs["name"] == "llm-judge-dev-dev-llm-judge-history"
    assert plan.one(REPOSITORY).inputs["repositoryId"] == "dev-flash-cache-repo"
    assert "/dev-flash-cache-repo/" in plan.outputs["gcp_loader_image"]


# --- outputs and config errors --------------------------------------------------------------------


def test_stack_outputs(dev):
    out = dev.outputs
    assert out["gcp_bucket_name"] == "llm-judge-dev-llm-judge-history"
    assert out["gcp_bucket_url"] == "gs://llm-judge-dev-llm-judge-history"
    assert out["gcp_loader_job_name"] == "interaction-loader"
    assert out["gcp_judge_job_name"] == "llm-judge-trigger"
    assert out["gcp_loader_schedule_name"] == "trigger-loader-hourly"
    assert out["gcp_judge_schedule_name"] == "trigger-judge-daily"
    assert out["gcp_judge_model"] == (
        "publishers/google/models/gemini-3.5-flash-lite in global: retires 2027-07-21 or later "
        "(catalogue read 2026-12-05)"
    )
    assert out["gcp_loader_service_account"] == account_email("loader-sa", "llm-judge-dev")
    assert out["gcp_batch_service_account"] == account_email("batch-judge-sa", "llm-judge-dev")
    assert out["gcp_invoker_service_account"] == account_email("job-invoker-sa", "llm-judge-dev")
    assert out["gcp_judge_image"].startswith("us-central1-docker.pkg.dev/")
    assert "@sha256:" in out["gcp_judge_image"]


def test_the_stack_files_ask_for_deletion_protection_in_prod_only(dev, prod):
    # `protect` is a resource option, not an input: check it through the program's own decision.
    assert dev.config.gcp.deletion_protection is False
    assert prod.config.gcp.deletion_protection is True


def test_a_missing_project_and_brokers_name_their_keys():
    with pytest.raises(ConfigError) as info:
        render(
            "dev",
            {"aws": {"enabled": False}, "gcp": {"kafka": {"securityProtocol": "PLAINTEXT"}}},
            use_cache=False,
        )
    assert info.value.problems == [
        "llm-judge:gcp.project: required: the GCP project to deploy to (or set gcp:project)",
        "llm-judge:gcp.kafka.brokers: required: at least one HOST:PORT bootstrap broker",
    ]


def test_half_the_sasl_credentials_is_an_error():
    with pytest.raises(ConfigError) as info:
        render_gcp("dev", kafkaSaslUsername=SASL_USER)
    assert info.value.problems == [
        "llm-judge:kafkaSaslPassword: required with the other SASL credential "
        "(pulumi config set --secret kafkaSaslPassword ...)"
    ]


def test_credentials_with_a_non_sasl_protocol_are_an_error():
    with pytest.raises(ConfigError) as info:
        render_gcp("dev", {"kafka": {"securityProtocol": "SSL", "saslMechanism": None}}, **CREDENTIALS)
    assert info.value.problems[0].startswith("llm-judge:kafkaSaslUsername: SASL credentials are set but")
    assert SASL_PASSWORD not in str(info.value)


def test_switching_gcp_off_registers_nothing_of_it():
    plan = render("dev", {"aws": {"enabled": False}, "gcp": {"enabled": False}})
    assert not [
        r for r in plan.resources if r.type.startswith(("gcp:", "llm-judge:gcp:", "pulumi:providers:gcp"))
    ]
    assert not [k for k in plan.outputs if k.startswith("gcp_")]


def test_counts_of_each_resource(dev):
    counts = {
        t: len(dev.of_type(t)) for t in (ACCOUNT, BUCKET_IAM, PROJECT_IAM, RUN_JOB, SCHEDULER_JOB, IMAGE)
    }
    assert counts == {ACCOUNT: 3, BUCKET_IAM: 8, PROJECT_IAM: 1, RUN_JOB: 3, SCHEDULER_JOB: 3, IMAGE: 2}
    assert len(in_component(dev, RUN_JOB_IAM, "gcp-loader")) == 1
    assert len(in_component(dev, RUN_JOB_IAM, "gcp-judge")) == 1


def test_the_project_can_come_from_gcp_project(tmp_path):
    block = {k: v for k, v in gcp_block("dev").items() if k != "project"}
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(
        json.dumps(
            {
                "config": {
                    "gcp:project": "from-gcp-ns",
                    "llm-judge:aws": {"enabled": False},
                    "llm-judge:gcp": block,
                }
            }
        )
    )
    plan = render("dev", config_file=path, use_cache=False)
    assert plan.outputs["gcp_project"] == "from-gcp-ns"
    assert job(plan, "loader").inputs["project"] == "from-gcp-ns"
    assert env(plan, "judge")["GCP_PROJECT"] == "from-gcp-ns"


def test_the_collect_job_runs_the_judge_image_as_the_batch_account_with_the_collect_command(dev):
    collect = job(dev, "collect").inputs
    assert collect["name"] == "llm-judge-collect"
    assert collect["template"]["template"]["serviceAccount"] == account_email(
        "batch-judge-sa", "llm-judge-dev"
    )
    assert container(dev, "collect")["image"] == container(dev, "judge")["image"]
    assert container(dev, "collect")["args"] == ["collect", "--lookback", "3"]
    assert "args" not in container(dev, "judge")  # the image's CMD: submit yesterday
    # The judge's environment, and the review sample's and the people kappa's settings (defaults).
    assert env(dev, "collect") == {
        **env(dev, "judge"),
        "REVIEW_PER_STRATUM": "50",
        "REVIEW_RANDOM_SLICE": "50",
        "PEOPLE_MIN_LABELS": "30",
        "PEOPLE_KAPPA_DAYS": "7",
    }
    s = schedule(dev, "collect").inputs
    assert s["name"] == "trigger-collect-daily"
    assert s["schedule"] == "0 23 * * *"
    assert s["httpTarget"]["uri"].endswith("/jobs/llm-judge-collect:run")


def test_the_collect_job_can_be_switched_off():
    plan = render_gcp("dev", {"jobs": {"collect": {"enabled": False}}})
    assert sorted(j.inputs["name"] for j in plan.of_type(RUN_JOB)) == [
        "interaction-loader",
        "llm-judge-trigger",
    ]
    assert "gcp_collect_job_name" not in plan.outputs
