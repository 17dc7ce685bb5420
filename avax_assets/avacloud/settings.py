"""The AvaCloud Data and Metrics APIs' settings: declared once, read by the client and the resource."""

from __future__ import annotations

from enum import Enum
from typing import Optional

from avax_assets.core.config import HttpUrl, Settings, setting
from avax_assets.core.http import Patience

# compute units per minute of each plan
BUDGET_TIERS = {"unauthenticated": 6_000, "free": 8_000, "base": 10_000, "growth": 14_000, "pro": 20_000}


class AvaCloudNetwork(str, Enum):
    mainnet = "mainnet"
    fuji = "fuji"
    testnet = "testnet"


class AvaCloudSettings(Settings):
    """AvaCloud Data and Metrics APIs. The key raises rate limits; the compute-unit budget is the plan's (6,000
    a minute unauthenticated; 8,000 / 10,000 / 14,000 / 20,000 on paid tiers)."""

    data_url: HttpUrl = setting("https://data-api.avax.network", "AVAX_AVACLOUD_DATA_URL", "The Data API's base URL.")
    metrics_url: HttpUrl = setting("https://metrics.avax.network", "AVAX_AVACLOUD_METRICS_URL",
                                   "The Metrics API's base URL.")
    api_key: Optional[str] = setting(None, "AVAX_AVACLOUD_API_KEY", "The API key (x-glacier-api-key header).",
                                     secret=True)
    cu_per_minute: int = setting(BUDGET_TIERS["unauthenticated"], "AVAX_AVACLOUD_CU_PER_MINUTE",
                                 "Compute units per minute the plan allows.", gt=0, le=1_000_000)
    network: AvaCloudNetwork = setting(AvaCloudNetwork.mainnet, "AVAX_AVACLOUD_NETWORK", "The network the "
                                       "snapshots list.")
    metric_chain_ids: Optional[list[str]] = setting(None, "AVAX_AVACLOUD_METRIC_CHAIN_IDS", "Chains the Metrics "
                                                    "API series are read for (chain ids, or total); unset: every "
                                                    "configured chain, and total.")
    page_size: int = setting(100, "AVAX_AVACLOUD_PAGE_SIZE", "Items per page (the API's maximum is 100).",
                             gt=0, le=100)
    max_pages: int = setting(1_000, "AVAX_AVACLOUD_MAX_PAGES", "Pages a listing may take before it is refused.",
                             gt=0, le=100_000)
    timeout_s: float = setting(30.0, "AVAX_AVACLOUD_TIMEOUT_S", "Seconds per connect or read.", gt=0, le=600)
    max_attempts: int = setting(6, "AVAX_AVACLOUD_MAX_ATTEMPTS", "Tries per request (429 storms last longer).",
                                gt=0, le=20)

    backoff_base_s: float = setting(0.5, "AVAX_AVACLOUD_BACKOFF_BASE_S", "Seconds before the first retry; doubles each "
                                    "time, jittered.", gt=0, le=60)
    backoff_max_s: float = setting(60.0, "AVAX_AVACLOUD_BACKOFF_MAX_S", "Most seconds between retries.", gt=0, le=600)
    deadline_s: float = setting(60.0, "AVAX_AVACLOUD_DEADLINE_S", "Seconds for a whole answer.", gt=0, le=3600)
    max_response_mb: float = setting(32.0, "AVAX_AVACLOUD_MAX_RESPONSE_MB", "MiB an answer may have; a larger one is "
                                     "refused unread.", gt=0, le=1024)

    @property
    def patience(self) -> Patience:
        return Patience.of(self, "AVAX_AVACLOUD_DATA_URL or AVAX_AVACLOUD_METRICS_URL")
