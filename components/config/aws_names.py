"""AWS names and identifiers the ``llm-judge:aws`` sections accept: EKS cluster and node group names,
IAM role and policy ARNs, subnet and VPC ids."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

from .base import pattern

_EKS_NAME = re.compile(r"^[0-9A-Za-z][A-Za-z0-9\-_]*$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]+$")
_POLICY_ARN = re.compile(r"^arn:aws[a-z-]*:iam::([0-9]{12}|aws):policy/[\w+=,.@/-]+$")

EksName = Annotated[
    str,
    AfterValidator(pattern(_EKS_NAME, "1-100 of [A-Za-z0-9-_], starting alphanumeric")),
    Field(max_length=100),
]
RoleArn = Annotated[
    str, AfterValidator(pattern(_ROLE_ARN, "an IAM role ARN (arn:aws:iam::123456789012:role/NAME)"))
]
PolicyArn = Annotated[
    str, AfterValidator(pattern(_POLICY_ARN, "an IAM policy ARN (arn:aws:iam::aws:policy/NAME)"))
]
SubnetId = Annotated[str, AfterValidator(pattern(re.compile(r"^subnet-[0-9a-f]{8,17}$"), "a subnet id"))]
VpcId = Annotated[str, AfterValidator(pattern(re.compile(r"^vpc-[0-9a-f]{8,17}$"), "a VPC id"))]
