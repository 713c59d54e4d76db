"""Tags shared by the AWS components: the caller's tags, the child's role tags, and `Name`."""

from collections.abc import Mapping

import pulumi


def name_tagged(
    tags: pulumi.Input[Mapping[str, pulumi.Input[str]]] | None,
    name: str,
    extra: Mapping[str, str] | None = None,
) -> pulumi.Output[dict[str, str]]:
    """The caller's tags plus the child's role tags and `Name` (the console shows it; cost reports group by it).

    The provider's default tags (environment, team, cost-center, managed-by) are merged by AWS itself.
    """

    def merge(base: Mapping[str, str]) -> dict[str, str]:
        return {**base, **(extra or {}), "Name": name}

    return pulumi.Output.from_input(tags or {}).apply(merge)  # type: ignore[arg-type]
