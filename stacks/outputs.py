"""Stack output names: one enum shared by the program and the tests."""

from enum import StrEnum


class StackOutput(StrEnum):
    """Keys the program exports."""

    ENVIRONMENT = "environment"
    RESIDENCY = "residency"
    CLOUDS = "clouds"
    AWS_REGION = "awsRegion"
    AWS_VPC_ID = "awsVpcId"
    AWS_PRIVATE_SUBNET_IDS = "awsPrivateSubnetIds"
    AWS_PUBLIC_SUBNET_IDS = "awsPublicSubnetIds"
    AWS_FLOW_LOG_GROUP = "awsFlowLogGroup"
