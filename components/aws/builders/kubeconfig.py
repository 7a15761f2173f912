"""A kubeconfig for an EKS cluster that authenticates with ``aws eks get-token`` on every call:
no long-lived token is stored in the Pulumi state, only the endpoint and the public CA. A plain dict:
it becomes the provider's ``kubeconfig`` text (JSON), not a typed provider argument."""

from __future__ import annotations

from typing import Any


def kubeconfig(
    cluster_name: str, endpoint: str, ca_data: str, region: str, role_arn: str | None = None
) -> dict[str, Any]:
    args = ["eks", "get-token", "--cluster-name", cluster_name, "--region", region, "--output", "json"]
    if role_arn:
        args += ["--role-arn", role_arn]
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": cluster_name, "cluster": {"server": endpoint, "certificate-authority-data": ca_data}}
        ],
        "users": [
            {
                "name": cluster_name,
                "user": {
                    "exec": {
                        "apiVersion": "client.authentication.k8s.io/v1beta1",
                        "command": "aws",
                        "args": args,
                        "interactiveMode": "Never",
                    }
                },
            }
        ],
        "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}],
        "current-context": cluster_name,
    }
