"""The P-Chain source's settings: declared once, read by the node client and the resource. Without a node URL the
P-Chain datasets come from the AvaCloud Data API (the avacloud resource's settings)."""

from __future__ import annotations

from typing import Optional

from avax_assets.core.config import HttpUrl, Settings, setting
from avax_assets.core.http import Patience


class PChainSettings(Settings):
    """The P-Chain's source: a node's platform API (avalanchego, `…/ext/bc/P`) when its URL is set, else the
    AvaCloud Data API."""

    rpc_url: Optional[HttpUrl] = setting(None, "AVAX_P_CHAIN_RPC_URL", "A node's P-Chain API, e.g. "
                                         "https://api.avax.network/ext/bc/P (may hold an API key); unset: the "
                                         "AvaCloud Data API.", secret=True)
    concurrency: int = setting(4, "AVAX_P_CHAIN_CONCURRENCY", "Requests to the node in flight at once.", gt=0, le=64)
    timeout_s: float = setting(30.0, "AVAX_P_CHAIN_TIMEOUT_S", "Seconds per connect or read.", gt=0, le=600)
    deadline_s: float = setting(60.0, "AVAX_P_CHAIN_DEADLINE_S", "Seconds for a whole answer.", gt=0, le=3600)
    max_attempts: int = setting(5, "AVAX_P_CHAIN_MAX_ATTEMPTS", "Tries per request (transient failures only).",
                                gt=0, le=20)
    backoff_base_s: float = setting(0.5, "AVAX_P_CHAIN_BACKOFF_BASE_S", "Seconds before the first retry; doubles "
                                    "each time, jittered.", gt=0, le=60)
    backoff_max_s: float = setting(30.0, "AVAX_P_CHAIN_BACKOFF_MAX_S", "Most seconds between retries.", gt=0, le=600)
    max_response_mb: float = setting(32.0, "AVAX_P_CHAIN_MAX_RESPONSE_MB", "MiB an answer may have; a larger one is "
                                     "refused unread.", gt=0, le=1024)

    @property
    def patience(self) -> Patience:
        return Patience.of(self, "AVAX_P_CHAIN_RPC_URL")
