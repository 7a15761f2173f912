"""The jobs' images: built from build/Dockerfile.* with pulumi-docker-build and pushed to an Artifact
Registry repository, each job pinned to the digest of its build."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_docker_build as docker_build
import pulumi_gcp as gcp

from components.config.gcp_images import ImagesConfig

from .builders.registry import cleanup_policies, image_name, pinned, registry_host

TYPE = "llm-judge:gcp:ContainerImages"

# Artifact Registry takes a short-lived OAuth access token as a password for this user name, so no
# `gcloud auth configure-docker` is needed; docker-build ignores password changes when diffing.
TOKEN_USER = "oauth2accesstoken"  # noqa: S105 - a user name, not a password


class ContainerImages(pulumi.ComponentResource):
    refs: dict[str, pulumi.Output[str]]
    """Image name -> ``REGISTRY/PROJECT/REPO/NAME:STACK@sha256:...``."""
    digests: dict[str, pulumi.Output[str]]
    repository: gcp.artifactregistry.Repository

    def __init__(
        self,
        name: str,
        cfg: ImagesConfig,
        *,
        repository_id: str,
        project: str,
        location: str,
        dockerfiles: Mapping[str, str],
        tag: str,
        depends_on: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__(TYPE, name, None, opts)
        self.repository = gcp.artifactregistry.Repository(
            f"{name}-repo",
            project=project,
            location=location,
            repository_id=repository_id,
            format="DOCKER",
            description="llm-judge job images (interaction loader, batch judge)",
            cleanup_policy_dry_run=False,
            cleanup_policies=cleanup_policies(cfg),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(depends_on)),
        )
        token = gcp.organizations.get_client_config_output(opts=pulumi.InvokeOutputOptions(parent=self))
        registry: docker_build.RegistryArgsDict = {
            "address": registry_host(location),
            "username": TOKEN_USER,
            "password": pulumi.Output.secret(token.access_token),
        }
        self.refs = {}
        self.digests = {}
        for image, dockerfile in dockerfiles.items():
            tag_ref = f"{image_name(location, project, repository_id, image)}:{tag}"
            built = docker_build.Image(
                f"{name}-{image}",
                context={"location": "."},
                dockerfile={"location": dockerfile},
                platforms=[docker_build.Platform(cfg.platform)],
                push=True,
                build_on_preview=cfg.build_on_preview,
                tags=[tag_ref],
                registries=[registry],
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.repository]),
            )
            self.digests[image] = built.digest
            self.refs[image] = built.digest.apply(lambda d, t=tag_ref: pinned(t, d))
        self.register_outputs({"refs": self.refs})
