"""Data-residency zones: which regions of each cloud lie inside a zone.

Explicit sets, not prefixes: AWS `eu-west-2` (London) and `eu-central-2` (Zurich) and GCP `europe-west2`
and `europe-west6` carry a European prefix but lie outside the EU/EEA, where GDPR Art. 44 transfer rules
apply. Keep these tables in step with the clouds' region lists.
"""

from enum import StrEnum


class Residency(StrEnum):
    """Where an environment's data may live."""

    EU = "eu"
    """EU/EEA regions only (GDPR territory; no third-country transfer)."""
    US = "us"
    """United States regions only."""
    ANY = "any"
    """No residency constraint."""


class Cloud(StrEnum):
    """A cloud an environment can deploy to."""

    AWS = "aws"
    AZURE = "azure"
    GCP = "gcp"


_REGIONS: dict[Residency, dict[Cloud, frozenset[str]]] = {
    Residency.EU: {
        Cloud.AWS: frozenset(
            {"eu-west-1", "eu-west-3", "eu-central-1", "eu-north-1", "eu-south-1", "eu-south-2"}
        ),
        Cloud.GCP: frozenset(
            {
                "europe-west1",
                "europe-west3",
                "europe-west4",
                "europe-west8",
                "europe-west9",
                "europe-west10",
                "europe-west12",
                "europe-north1",
                "europe-north2",
                "europe-central2",
                "europe-southwest1",
            }
        ),
        Cloud.AZURE: frozenset(
            {
                "northeurope",
                "westeurope",
                "francecentral",
                "francesouth",
                "germanywestcentral",
                "germanynorth",
                "swedencentral",
                "swedensouth",
                "italynorth",
                "polandcentral",
                "spaincentral",
                "austriaeast",
                "belgiumcentral",
                "denmarkeast",
                "norwayeast",
                "norwaywest",
            }
        ),
    },
    Residency.US: {
        Cloud.AWS: frozenset({"us-east-1", "us-east-2", "us-west-1", "us-west-2"}),
        Cloud.GCP: frozenset(
            {
                "us-central1",
                "us-east1",
                "us-east4",
                "us-east5",
                "us-south1",
                "us-west1",
                "us-west2",
                "us-west3",
                "us-west4",
            }
        ),
        Cloud.AZURE: frozenset(
            {
                "eastus",
                "eastus2",
                "centralus",
                "northcentralus",
                "southcentralus",
                "westcentralus",
                "westus",
                "westus2",
                "westus3",
            }
        ),
    },
}


def allowed_regions(residency: Residency, cloud: Cloud) -> frozenset[str] | None:
    """Regions of `cloud` inside `residency`, or None when the zone allows every region."""
    if residency is Residency.ANY:
        return None
    return _REGIONS[residency][cloud]


def region_allowed(residency: Residency, cloud: Cloud, region: str) -> bool:
    """Whether `region` of `cloud` lies inside `residency`."""
    allowed = allowed_regions(residency, cloud)
    return allowed is None or region in allowed
