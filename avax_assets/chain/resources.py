"""The chain family's resource: the C-Chain node, its settings declared in chain/settings.py."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from avax_assets.chain.reader import ChainReader
from avax_assets.chain.rpc import JsonRpcClient
from avax_assets.chain.settings import BlocksSource, RpcSettings
from avax_assets.orchestration.configured import settings_resource


class ChainRpcResource(settings_resource(RpcSettings, "rpc")):
    def settings(self) -> RpcSettings:
        return super().settings()

    def uses_data_api(self) -> bool:
        return BlocksSource(self.blocks_source) is BlocksSource.data_api

    @contextmanager
    def reader(self) -> Iterator[ChainReader]:
        settings = self.settings()
        with ExitStack() as stack:
            client = stack.enter_context(JsonRpcClient(settings))
            tracer = stack.enter_context(JsonRpcClient(settings.tracing())) if settings.trace_url else None
            yield ChainReader(client, logs_block_range=settings.logs_block_range, receipts=settings.receipts,
                              trace_client=tracer, trace_method=settings.trace_method)
