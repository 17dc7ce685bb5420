"""The Graph's settings: declared once, read by the client and the resource."""

from __future__ import annotations

from typing import Optional

from avax_assets.core.config import HttpUrl, Settings, setting
from avax_assets.core.http import Patience

PAGE_SIZE = 1000  # The Graph's maximum `first`


class SubgraphSettings(Settings):
    """The Graph's gateway. The key travels as `Authorization: Bearer`, never in a URL; the ids map a declared
    subgraph (e.g. `traderjoe-v2`) to its deployment's subgraph id."""

    gateway_url: HttpUrl = setting("https://gateway.thegraph.com/api", "AVAX_GRAPH_GATEWAY_URL",
                                   "The gateway's base URL (queries go to <gateway>/subgraphs/id/<id>).")
    api_key: Optional[str] = setting(None, "AVAX_GRAPH_API_KEY", "The gateway's API key.", secret=True)
    subgraph_ids: dict[str, str] = setting({}, "AVAX_SUBGRAPH_IDS", "Declared subgraph → deployment id, "
                                           "e.g. traderjoe-v2=<subgraph id>.")
    page_size: int = setting(PAGE_SIZE, "AVAX_GRAPH_PAGE_SIZE", "Entities per query (The Graph's maximum is 1000).",
                             gt=0, le=PAGE_SIZE)
    max_pages: int = setting(10_000, "AVAX_GRAPH_MAX_PAGES", "Pages a query may take before it is refused.", gt=0,
                            le=100_000)
    timeout_s: float = setting(30.0, "AVAX_GRAPH_TIMEOUT_S", "Seconds per connect or read.", gt=0, le=600)
    max_attempts: int = setting(5, "AVAX_GRAPH_MAX_ATTEMPTS", "Tries per query (transient failures only).", gt=0, le=20)

    backoff_base_s: float = setting(0.5, "AVAX_GRAPH_BACKOFF_BASE_S", "Seconds before the first retry; doubles each "
                                    "time, jittered.", gt=0, le=60)
    backoff_max_s: float = setting(30.0, "AVAX_GRAPH_BACKOFF_MAX_S", "Most seconds between retries.", gt=0, le=600)
    deadline_s: float = setting(60.0, "AVAX_GRAPH_DEADLINE_S", "Seconds for a whole answer.", gt=0, le=3600)
    max_response_mb: float = setting(32.0, "AVAX_GRAPH_MAX_RESPONSE_MB", "MiB an answer may have; a larger one is "
                                     "refused unread.", gt=0, le=1024)

    @property
    def patience(self) -> Patience:
        return Patience.of(self, "AVAX_GRAPH_GATEWAY_URL")

    def url_of(self, subgraph_id: str) -> str:
        return f"{self.gateway_url.rstrip('/')}/subgraphs/id/{subgraph_id}"
