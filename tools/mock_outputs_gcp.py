"""Computed outputs and data-source results that the GCP provider would return, for the offline plan.

``RESOURCES``: resource type token -> fn(name, inputs) -> extra outputs (merged over the inputs).
``CALLS``: function token -> fn(args) -> result. See tools/mocks.py.

Only fields the program reads (or a reviewer looks for in plan.json) are filled in, in the provider's
own formats. Values are fixed and recognisably fake (project number 123456789012), derived from the
inputs or the resource name so that two resources never share one. ``docker-build:index:Image`` is in
tools/mock_outputs_aws.py (one table for both clouds: the tables are merged).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

PROJECT = "mock-project"
PROJECT_NUMBER = "123456789012"
REGION = "us-central1"


def _hex(seed: str, length: int = 16) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:length]


def _project(inputs: dict[str, Any]) -> str:
    return str(inputs.get("project") or PROJECT)


def _service_account(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    account_id = inputs.get("accountId") or name
    email = f"{account_id}@{_project(inputs)}.iam.gserviceaccount.com"
    return {
        "email": email,
        "member": f"serviceAccount:{email}",
        "name": f"projects/{_project(inputs)}/serviceAccounts/{email}",
        "uniqueId": str(int(_hex(email, 12), 16)).rjust(21, "1")[:21],
    }


def _bucket(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    bucket = inputs.get("name") or f"{name}-{_hex(name, 8)}"
    return {
        "name": bucket,
        "url": f"gs://{bucket}",
        "selfLink": f"https://www.googleapis.com/storage/v1/b/{bucket}",
        "project": _project(inputs),
    }


def _service_identity(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    service = str(inputs.get("service", "")).split(".", 1)[0]
    email = f"service-{PROJECT_NUMBER}@gcp-sa-{service}.iam.gserviceaccount.com"
    return {"email": email, "member": f"serviceAccount:{email}"}


def _secret(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    secret_id = inputs.get("secretId") or name
    full = f"projects/{PROJECT_NUMBER}/secrets/{secret_id}"
    return {"id": f"projects/{_project(inputs)}/secrets/{secret_id}", "name": full, "secretId": secret_id}


def _secret_version(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    secret = str(inputs.get("secret", f"projects/{PROJECT}/secrets/{name}"))
    version = "1"
    return {"id": f"{secret}/versions/{version}", "name": f"{secret}/versions/{version}", "version": version}


def _repository(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    repo = inputs.get("repositoryId") or name
    location = inputs.get("location") or REGION
    return {
        "name": repo,
        "registryUri": f"{location}-docker.pkg.dev/{_project(inputs)}/{repo}",
        "createTime": "2025-01-01T00:00:00Z",
    }


def _run_job(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    job = inputs.get("name") or f"{name}-{_hex(name, 7)}"
    return {
        "name": job,
        "uid": _hex(f"job/{job}", 32),
        "project": _project(inputs),
        "location": inputs.get("location") or REGION,
    }


def _scheduler_job(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return {"name": inputs.get("name") or f"{name}-{_hex(name, 7)}", "state": "ENABLED"}


def _notification_channel(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    channel_id = str(int(_hex(f"channel/{name}", 12), 16))
    return {"name": f"projects/{_project(inputs)}/notificationChannels/{channel_id}"}


def _alert_policy(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    policy_id = str(int(_hex(f"policy/{name}", 12), 16))
    return {"name": f"projects/{_project(inputs)}/alertPolicies/{policy_id}"}


def _log_metric(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return {"name": inputs.get("name") or name, "id": inputs.get("name") or name}


def _etag(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return {"etag": f"BwY{_hex(name, 9)}"}


def _get_project(args: dict[str, Any]) -> dict[str, Any]:
    project = args.get("projectId") or PROJECT
    return {
        "id": f"projects/{project}",
        "projectId": project,
        "name": project,
        "number": PROJECT_NUMBER,
        "labels": {},
    }


FINE_GRAINED_SUFFIX = "-fine-grained"
"""An existing bucket whose name ends with this is answered as one without uniform bucket-level access
(object ACLs), so the stack's check of that can be exercised offline."""


def _get_bucket(args: dict[str, Any]) -> dict[str, Any]:
    bucket = str(args.get("name") or "bucket")
    return {
        "id": bucket,
        "name": bucket,
        "url": f"gs://{bucket}",
        "selfLink": f"https://www.googleapis.com/storage/v1/b/{bucket}",
        "project": PROJECT,
        "projectNumber": int(PROJECT_NUMBER),
        "location": "US-CENTRAL1",
        "storageClass": "STANDARD",
        "uniformBucketLevelAccess": not bucket.endswith(FINE_GRAINED_SUFFIX),
        "publicAccessPrevention": "enforced",
    }


def _get_client_config(args: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"projects/{PROJECT}/regions/{REGION}/zones/",
        "project": PROJECT,
        "region": REGION,
        "zone": "",
        "accessToken": "offline-mock-gcp-access-token",
        "defaultLabels": {},
    }


RESOURCES: dict[str, Callable[[str, dict[str, Any]], dict[str, Any]]] = {
    "gcp:serviceaccount/account:Account": _service_account,
    "gcp:storage/bucket:Bucket": _bucket,
    "gcp:projects/serviceIdentity:ServiceIdentity": _service_identity,
    "gcp:secretmanager/secret:Secret": _secret,
    "gcp:secretmanager/secretVersion:SecretVersion": _secret_version,
    "gcp:artifactregistry/repository:Repository": _repository,
    "gcp:cloudrunv2/job:Job": _run_job,
    "gcp:cloudscheduler/job:Job": _scheduler_job,
    "gcp:monitoring/notificationChannel:NotificationChannel": _notification_channel,
    "gcp:monitoring/alertPolicy:AlertPolicy": _alert_policy,
    "gcp:logging/metric:Metric": _log_metric,
    "gcp:projects/iAMMember:IAMMember": _etag,
    "gcp:storage/bucketIAMMember:BucketIAMMember": _etag,
    "gcp:secretmanager/secretIamMember:SecretIamMember": _etag,
    "gcp:cloudrunv2/jobIamMember:JobIamMember": _etag,
}
CALLS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "gcp:organizations/getProject:getProject": _get_project,
    "gcp:organizations/getClientConfig:getClientConfig": _get_client_config,
    "gcp:storage/getBucket:getBucket": _get_bucket,
}
