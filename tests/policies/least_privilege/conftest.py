"""A moto server per test module, IAM enforcement on, and `as_identity` to act as one workload identity.

Order matters: an admin and an assumer are created through moto IAM while moto still answers everyone, then
enforcement is switched on (`POST /moto-api/reset-auth` with `0`); from then on only keys moto IAM issued are
valid, which the fixture checks before any test relies on a denial. Every client talks to `127.0.0.1` on a
random port with explicit credentials and a fixed region; nothing reaches AWS. At teardown enforcement goes
back to what it was, moto's state is reset (its backends are process-wide) and the server stops.

Server: `moto.server.ThreadedMotoServer` (moto's `server` extra), so every request goes over HTTP through
moto's authentication and authorization code, which is what these tests are about.
"""

import http.client
import itertools
import json
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3  # type: ignore[import-untyped]
import botocore.session  # type: ignore[import-untyped]
import pytest
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import ClientError  # type: ignore[import-untyped]
from botocore.loaders import create_loader  # type: ignore[import-untyped]
from moto.server import ThreadedMotoServer

from tests.policies.least_privilege.cases import PARTITION, REGION, is_access_denied

ROLE_PATH = "/least-privilege/"
"""Path of every role `as_identity` creates; the assumer may assume roles under it and nothing else."""

_CLIENT_CONFIG = Config(
    retries={"max_attempts": 1, "mode": "standard"},  # a denial or a moto error is an answer, not a blip
    connect_timeout=2,
    read_timeout=20,
)
# One loader for every session: each boto3 session would otherwise parse the service models again
# (about half a second for EC2's).
_SERVICE_MODELS = create_loader()
_BOOTSTRAP_KEY = "bootstrap-dummy"  # only valid while moto still answers everyone
_ISOLATED_ENV = {
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "DO_NOT_TRACK": "true",
    # moto's public AMI catalogue costs seconds per EC2 region; cases register the images they launch.
    "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
}
_FOREIGN_ENV = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_ENDPOINT_URL",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "http_proxy",
    "https_proxy",
)


class MotoSession(boto3.Session):  # type: ignore[misc]
    """A boto3 session whose clients talk to this module's moto server, in REGION unless told otherwise."""

    def __init__(self, endpoint_url: str, region_name: str = REGION, **credentials: str) -> None:
        core = botocore.session.get_session()
        core.register_component("data_loader", _SERVICE_MODELS)
        super().__init__(botocore_session=core, region_name=region_name, **credentials)
        self.endpoint_url = endpoint_url

    def client(self, service_name: str, **kwargs: Any) -> Any:
        """A low-level client pointed at moto (`endpoint_url` and a no-retry config unless given)."""
        kwargs.setdefault("endpoint_url", self.endpoint_url)
        kwargs.setdefault("config", _CLIENT_CONFIG)
        return super().client(service_name, **kwargs)

    def in_region(self, region_name: str) -> "MotoSession":
        """The same credentials, signing for another region."""
        frozen = self.get_credentials().get_frozen_credentials()
        return MotoSession(
            self.endpoint_url,
            region_name,
            aws_access_key_id=frozen.access_key,
            aws_secret_access_key=frozen.secret_key,
            **({"aws_session_token": frozen.token} if frozen.token else {}),
        )


@dataclass(frozen=True)
class Principal:
    """An IAM user created through moto IAM, with the only kind of keys moto accepts under enforcement."""

    arn: str
    session: MotoSession


@dataclass
class MotoAws:
    """One moto server with IAM enforcement on: the account, an admin for set-up, and workload identities."""

    endpoint_url: str
    account_id: str
    admin: MotoSession
    """Allowed everything; creates the resources a case acts on (never used to prove a permission)."""
    assumer: Principal
    """Allowed `sts:AssumeRole` on roles under ROLE_PATH only; the principal `as_identity` trusts by default."""
    _names: Iterator[int] = field(default_factory=lambda: itertools.count(1), repr=False)

    def arn(self, service: str, resource: str, region: str = REGION) -> str:
        """An ARN in this account (`region=""` for global services)."""
        return f"arn:{PARTITION}:{service}:{region}:{self.account_id}:{resource}"

    def principal(self, name: str) -> Principal:
        """A new IAM user allowed to assume roles under ROLE_PATH and nothing else."""
        return _create_principal(self.admin, name, self.arn("iam", f"role{ROLE_PATH}*", region=""))

    def as_identity(
        self,
        policy_documents: Mapping[str, str],
        trust: Principal | None = None,
        *,
        assume_as: Principal | None = None,
        name: str | None = None,
    ) -> MotoSession:
        """Create a role with exactly these inline policies, assume it, and return its session.

        The trust policy names one explicit principal ARN (moto refuses `<account>:root` where AWS would
        allow it). The role gets no managed policy, no permissions boundary and no other inline policy.

        Args:
            policy_documents: inline policy name → JSON document, as the component renders them.
            trust: the principal the role trusts (default: the module's assumer).
            assume_as: who calls sts:AssumeRole (default: `trust`); a different one proves the trust holds.
            name: the role's name (default: a fresh `identity-<n>`).

        Raises:
            ClientError: when moto refuses the AssumeRole (for instance `assume_as` is not trusted).
        """
        trusted = trust or self.assumer
        caller = assume_as or trusted
        role_name = name or f"identity-{next(self._names)}"
        iam = self.admin.client("iam")
        trust_policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": trusted.arn}, "Action": "sts:AssumeRole"}],
        }
        role = iam.create_role(
            RoleName=role_name, Path=ROLE_PATH, AssumeRolePolicyDocument=json.dumps(trust_policy)
        )["Role"]
        for policy_name, document in policy_documents.items():
            iam.put_role_policy(RoleName=role_name, PolicyName=policy_name, PolicyDocument=document)
        # Exactly the generated documents: anything else on the role would make every success meaningless.
        assert sorted(iam.list_role_policies(RoleName=role_name)["PolicyNames"]) == sorted(policy_documents)
        assert iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"] == []
        credentials = caller.session.client("sts").assume_role(
            RoleArn=role["Arn"], RoleSessionName=f"{role_name}-session"
        )["Credentials"]
        return MotoSession(
            self.endpoint_url,
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )


def _create_principal(admin: MotoSession, name: str, assumable_roles: str) -> Principal:
    iam = admin.client("iam")
    user = iam.create_user(UserName=name)["User"]
    iam.put_user_policy(
        UserName=name,
        PolicyName="assume-least-privilege-roles",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": assumable_roles}],
            }
        ),
    )
    key = iam.create_access_key(UserName=name)["AccessKey"]
    session = MotoSession(
        admin.endpoint_url,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )
    return Principal(user["Arn"], session)


# --- the server ---------------------------------------------------------------------------------------


def _start_server() -> tuple[str, Callable[[], None]]:
    """Start moto's server on 127.0.0.1 and a random port; return its URL and how to stop it."""
    moto_server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto_server.start()
    host, port = moto_server.get_host_and_port()
    return f"http://{host}:{port}", moto_server.stop


def _post(endpoint_url: str, path: str, body: str) -> dict[str, Any]:
    connection = http.client.HTTPConnection(endpoint_url.removeprefix("http://"), timeout=10)
    try:
        # text/plain: with a form content type moto's handler would find its body already parsed away.
        connection.request("POST", path, body=body.encode(), headers={"Content-Type": "text/plain"})
        response = connection.getresponse()
        payload = response.read()
        if response.status != 200:
            raise RuntimeError(f"moto answered {response.status} to POST {path}: {payload[:200]!r}")
        answer: dict[str, Any] = json.loads(payload or b"{}")
        return answer
    finally:
        connection.close()


def _bootstrap_admin(endpoint_url: str) -> MotoSession:
    dummy = MotoSession(endpoint_url, aws_access_key_id=_BOOTSTRAP_KEY, aws_secret_access_key=_BOOTSTRAP_KEY)
    iam = dummy.client("iam")
    iam.create_user(UserName="bootstrap-admin")
    iam.put_user_policy(
        UserName="bootstrap-admin",
        PolicyName="set-up-only",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        ),
    )
    key = iam.create_access_key(UserName="bootstrap-admin")["AccessKey"]
    return MotoSession(
        endpoint_url, aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
    )


def _require_enforcement(endpoint_url: str, assumer: Principal) -> None:
    """Fail the module, not pass it vacuously, if moto is not refusing requests."""
    dummy = MotoSession(endpoint_url, aws_access_key_id=_BOOTSTRAP_KEY, aws_secret_access_key=_BOOTSTRAP_KEY)
    try:
        dummy.client("sts").get_caller_identity()
    except ClientError as error:
        if error.response["Error"]["Code"] != "InvalidClientTokenId":
            raise
    else:
        raise RuntimeError("moto accepted keys it never issued: IAM enforcement is off")
    try:
        assumer.session.client("iam").list_users()
    except ClientError as error:
        if not is_access_denied(error):
            raise
    else:
        raise RuntimeError("moto let the assumer call iam:ListUsers: IAM enforcement is off")


@pytest.fixture(scope="module")
def moto_aws() -> Iterator[MotoAws]:
    """A fresh moto server for this module, IAM enforcement on, an admin and an assumer in its account."""
    with pytest.MonkeyPatch.context() as env:
        for name in _FOREIGN_ENV:
            env.delenv(name, raising=False)
        for name, value in _ISOLATED_ENV.items():
            env.setenv(name, value)
        env.setenv("NO_PROXY", "127.0.0.1")
        env.setenv("no_proxy", "127.0.0.1")
        endpoint_url, stop = _start_server()
        previous_enforcement = "inf"
        try:
            admin = _bootstrap_admin(endpoint_url)
            account_id = admin.client("sts").get_caller_identity()["Account"]
            assumer = _create_principal(
                admin, "workload-assumer", f"arn:{PARTITION}:iam::{account_id}:role{ROLE_PATH}*"
            )
            switched = _post(endpoint_url, "/moto-api/reset-auth", "0")
            previous_enforcement = switched.get("PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT", "inf")
            _require_enforcement(endpoint_url, assumer)
            yield MotoAws(endpoint_url, account_id, admin, assumer)
        finally:
            try:
                _post(endpoint_url, "/moto-api/reset-auth", previous_enforcement)
                _post(endpoint_url, "/moto-api/reset", "")
            finally:
                stop()


@pytest.fixture(scope="module")
def as_identity(moto_aws: MotoAws) -> Callable[..., MotoSession]:
    """`MotoAws.as_identity` of this module's server."""
    return moto_aws.as_identity
