"""The GPU launch template's user data: MIME multipart, base64, one nodeadm NodeConfig with RAID0."""

from __future__ import annotations

import base64
import email

import yaml

from components.aws.builders import userdata
from tests.components.aws.helpers import LAUNCH_TEMPLATE, one, render_aws
from tests.support.golden import GPU_USER_DATA

GOLDEN = GPU_USER_DATA.path


def _parts(document: str) -> list[email.message.Message]:
    message = email.message_from_string(document)
    assert message.is_multipart(), "user data must be MIME multipart (EKS merges it with its own parts)"
    assert message.get_content_type() == "multipart/mixed"
    return list(message.get_payload())


def test_user_data_matches_golden_file():
    # `make golden` rewrites the file from the code (tests/support/golden.py): review the diff.
    assert GPU_USER_DATA.mismatch() is None, GPU_USER_DATA.mismatch()


def test_the_only_part_is_a_node_config_asking_for_raid0():
    parts = _parts(userdata.gpu_node_user_data())
    assert [p.get_content_type() for p in parts] == ["application/node.eks.aws"]
    config = yaml.safe_load(parts[0].get_payload())
    assert config["apiVersion"] == "node.eks.aws/v1alpha1"
    assert config["kind"] == "NodeConfig"
    assert config["spec"]["instance"]["localStorage"]["strategy"] == "RAID0"


def test_no_cluster_block_so_eks_supplies_it():
    # With no custom AMI in the launch template, EKS merges its own cluster details; a stale copy
    # here would break nodes after a cluster change.
    config = yaml.safe_load(_parts(userdata.gpu_node_user_data())[0].get_payload())
    assert "cluster" not in config["spec"]


def test_no_shell_script_part():
    assert not [
        p for p in _parts(userdata.gpu_node_user_data()) if p.get_content_type() == "text/x-shellscript"
    ]


def test_launch_template_carries_the_base64_document_not_gzipped():
    lt = one(render_aws(), LAUNCH_TEMPLATE, "-lt")
    raw = base64.b64decode(lt.inputs["userData"], validate=True)
    assert not raw.startswith(b"\x1f\x8b"), "user data must not be gzipped"
    assert raw.decode("ascii") == GOLDEN.read_text()


def test_the_raid_mount_matches_the_models_host_directory():
    from components.config.aws_model import ModelLoaderConfig

    assert ModelLoaderConfig().host_models_dir.startswith(userdata.RAID_MOUNT_PATH + "/")
