"""The live path's settings: declared once, read by the follower, the consumer and the resource."""

from __future__ import annotations

from typing import Optional

from avax_assets.core.config import Settings, WebSocketUrl, setting


class LiveSettings(Settings):
    """The live path: a follower of the accepted head publishing to Kafka, a consumer loading ClickHouse. Each
    chain of AVAX_CHAINS reads the same variables with its name after AVAX_ (AVAX_<NAME>_LIVE_…)."""

    poll_s: float = setting(0.5, "AVAX_LIVE_POLL_S", "Seconds between the follower's head polls (a newHeads "
                            "notice wakes it sooner).", ge=0.05, le=60)
    step_blocks: int = setting(50, "AVAX_LIVE_STEP_BLOCKS", "Most blocks per Kafka transaction (catching up goes "
                               "in steps of this many).", gt=0, le=10_000)
    traces: bool = setting(False, "AVAX_LIVE_TRACES", "Internal transactions too (needs debug_traceBlockByNumber).")
    start_block: Optional[int] = setting(None, "AVAX_LIVE_START_BLOCK", "Where a follower with nothing in Kafka "
                                         "starts; unset: the head.", ge=0)
    websocket_url: Optional[WebSocketUrl] = setting(None, "AVAX_LIVE_WEBSOCKET_URL", "newHeads over WebSocket; "
                                                    "unset: the RPC URL's ws:// twin, if it answers.", secret=True)
    group_id: str = setting("avax-assets-live", "AVAX_LIVE_GROUP_ID", "The consumer group.")
    batch_messages: int = setting(20_000, "AVAX_LIVE_BATCH_MESSAGES", "Most messages a consumer takes per "
                                  "micro-batch.", gt=0, le=1_000_000)
    batch_wait_s: float = setting(0.2, "AVAX_LIVE_BATCH_WAIT_S", "Seconds a consumer waits for them.", gt=0, le=60)
    session_timeout_s: float = setting(10.0, "AVAX_LIVE_SESSION_TIMEOUT_S", "The consumer group's session timeout "
                                       "in seconds (a join takes about half).", ge=1, le=300)
    rerequest_s: float = setting(30.0, "AVAX_LIVE_REREQUEST_S", "Seconds a step may lack rows its manifest counts "
                                 "(with the consumer caught up) before the follower is asked to publish it again; "
                                 "asked again as often.", ge=1, le=3600)
