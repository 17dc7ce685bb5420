"""The chain family's resource: one EVM chain and its node, its settings declared in chain/settings.py. There is
one per configured chain: `rpc` for the home chain, `rpc_<name>` for each chain of AVAX_CHAINS."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import ClassVar, Optional

from avax_assets.chain.reader import ChainReader
from avax_assets.chain.rpc import JsonRpcClient
from avax_assets.chain.settings import BlocksSource, RpcSettings
from avax_assets.core.errors import SettingError
from avax_assets.orchestration.configured import settings_resource


class ChainRpcResource(settings_resource(RpcSettings, "rpc")):
    per_chain: ClassVar[bool] = True
    chain: Optional[str] = None  # the chain's name (its variables' scope); unset: the home chain

    def settings(self) -> RpcSettings:
        return super().settings().scoped_to(self.chain)

    def uses_data_api(self) -> bool:
        return BlocksSource(self.blocks_source) is BlocksSource.data_api

    @contextmanager
    def reader(self) -> Iterator[ChainReader]:
        """A reader of the chain's node, once the node has said it serves this chain."""
        settings = self.settings()
        with ExitStack() as stack:
            client = stack.enter_context(JsonRpcClient(settings))
            check_chain_id(client, settings)
            tracer = stack.enter_context(JsonRpcClient(settings.tracing())) if settings.trace_url else None
            yield ChainReader(client, logs_block_range=settings.logs_block_range, receipts=settings.receipts,
                              trace_client=tracer, trace_method=settings.trace_method)


def check_chain_id(client: JsonRpcClient, settings: RpcSettings) -> None:
    """A node serving another chain than the one configured is refused before any work (its rows would be
    stored as the configured chain's)."""
    answered = int(client.call("eth_chainId", []), 16)
    if answered != settings.chain_id:
        raise SettingError(f"chain {settings.name}: the node at {settings.variable('url')} serves chain id "
                           f"{answered}, not {settings.chain_id}; set {settings.variable('chain_id')} or point "
                           f"{settings.variable('url')} at the chain's node")
