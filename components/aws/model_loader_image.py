"""The model-loader image, built from build/Dockerfile.model-loader and pushed to a private ECR
repository when the stack config names no pre-built image."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
import pulumi_docker_build as docker_build

TYPE = "llm-judge:aws:ModelLoaderImage"
DOCKERFILE = "build/Dockerfile.model-loader"


class ModelLoaderImage(pulumi.ComponentResource):
    ref: pulumi.Output[str]
    """``<repository>:<tag>@sha256:<digest>``: pods are pinned to the exact image that was pushed."""
    repository_url: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        tags: dict[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        repo = aws.ecr.Repository(
            f"{name}-repo",
            image_tag_mutability="MUTABLE",
            image_scanning_configuration={"scan_on_push": True},
            encryption_configurations=[{"encryption_type": "AES256"}],
            force_delete=True,
            tags=tags,
            opts=child,
        )
        token = aws.ecr.get_authorization_token_output(
            registry_id=repo.registry_id, opts=pulumi.InvokeOutputOptions(parent=self)
        )
        image = docker_build.Image(
            f"{name}-image",
            context={"location": "."},
            dockerfile={"location": DOCKERFILE},
            platforms=[docker_build.Platform.LINUX_AMD64],
            push=True,
            tags=[repo.repository_url.apply(lambda url: f"{url}:{pulumi.get_stack()}")],
            registries=[
                {
                    "address": repo.repository_url,
                    "username": token.user_name,
                    "password": pulumi.Output.secret(token.password),
                }
            ],
            opts=child,
        )
        self.ref = image.ref
        self.repository_url = repo.repository_url
        self.register_outputs({"ref": self.ref, "repository_url": self.repository_url})
