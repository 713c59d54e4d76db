"""AWS resource type tokens the AWS policies inspect (pulumi-aws 7.x), beyond those in resource_types."""

from mlops_policies.resource_types import IAM_ROLE

# IAM
IAM_USER = "aws:iam/user:User"
IAM_ACCESS_KEY = "aws:iam/accessKey:AccessKey"
IAM_ROLE_POLICY_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
IAM_USER_POLICY_ATTACHMENT = "aws:iam/userPolicyAttachment:UserPolicyAttachment"
IAM_GROUP_POLICY_ATTACHMENT = "aws:iam/groupPolicyAttachment:GroupPolicyAttachment"
IAM_POLICY_ATTACHMENT = "aws:iam/policyAttachment:PolicyAttachment"
IAM_ROLE_POLICY_ATTACHMENTS_EXCLUSIVE = (
    "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive"
)
IAM_USER_POLICY_ATTACHMENTS_EXCLUSIVE = (
    "aws:iam/userPolicyAttachmentsExclusive:UserPolicyAttachmentsExclusive"
)
IAM_GROUP_POLICY_ATTACHMENTS_EXCLUSIVE = (
    "aws:iam/groupPolicyAttachmentsExclusive:GroupPolicyAttachmentsExclusive"
)

MANAGED_POLICY_ARN_PROPERTIES: dict[str, str] = {
    IAM_ROLE_POLICY_ATTACHMENT: "policyArn",
    IAM_USER_POLICY_ATTACHMENT: "policyArn",
    IAM_GROUP_POLICY_ATTACHMENT: "policyArn",
    IAM_POLICY_ATTACHMENT: "policyArn",
    IAM_ROLE: "managedPolicyArns",
    IAM_ROLE_POLICY_ATTACHMENTS_EXCLUSIVE: "policyArns",
    IAM_USER_POLICY_ATTACHMENTS_EXCLUSIVE: "policyArns",
    IAM_GROUP_POLICY_ATTACHMENTS_EXCLUSIVE: "policyArns",
}
"""Types that attach managed policies, and the property holding the ARN (or list of ARNs)."""

# S3
S3_BUCKET = "aws:s3/bucket:Bucket"
S3_BUCKET_V2 = "aws:s3/bucketV2:BucketV2"
S3_BUCKET_TYPES = frozenset({S3_BUCKET, S3_BUCKET_V2})
S3_BUCKET_PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
S3_ACCOUNT_PUBLIC_ACCESS_BLOCK = "aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock"
S3_BUCKET_SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
S3_BUCKET_SSE_V2 = (
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2"
)
S3_BUCKET_SSE_TYPES = frozenset({S3_BUCKET_SSE, S3_BUCKET_SSE_V2})
S3_BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"

# KMS, CloudWatch
KMS_KEY = "aws:kms/key:Key"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"

# EKS, ECR
EKS_CLUSTER = "aws:eks/cluster:Cluster"
ECR_REPOSITORY = "aws:ecr/repository:Repository"

# EC2, VPC
EC2_LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
EC2_INSTANCE = "aws:ec2/instance:Instance"
EC2_VPC = "aws:ec2/vpc:Vpc"
EC2_FLOW_LOG = "aws:ec2/flowLog:FlowLog"
EC2_SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
EC2_DEFAULT_SECURITY_GROUP = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
EC2_SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
VPC_SECURITY_GROUP_INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
