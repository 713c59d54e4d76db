"""Resource type tokens the policies inspect, in one place."""

AWS_PROVIDER = "pulumi:providers:aws"
GCP_PROVIDER = "pulumi:providers:gcp"
AZURE_PROVIDER = "pulumi:providers:azure-native"

IAM_ROLE = "aws:iam/role:Role"
IAM_ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
IAM_POLICY = "aws:iam/policy:Policy"
IAM_USER_POLICY = "aws:iam/userPolicy:UserPolicy"
IAM_GROUP_POLICY = "aws:iam/groupPolicy:GroupPolicy"

IAM_POLICY_DOCUMENT_PROPERTIES: dict[str, str] = {
    IAM_ROLE_POLICY: "policy",
    IAM_POLICY: "policy",
    IAM_USER_POLICY: "policy",
    IAM_GROUP_POLICY: "policy",
}
"""Types holding an identity policy document, and the property that holds it."""
