"""The tokens family's assets: each LogEvent of tokens/decode.py decoded from the stored `logs`
partition (no second trip to the node), with a warning check listing logs that fit no standard shape;
and `tokens`, the metadata of every token seen that day (tokens/metadata.py)."""

from __future__ import annotations

from collections import defaultdict


from avax_assets.chain.assets import contract_reads_asset, decoded_asset
from avax_assets.chain.calls import distinct_values
from avax_assets.orchestration.factory import Run
from avax_assets.tokens.decode import EVENTS
from avax_assets.tokens.metadata import TOKEN_SOURCES, TOKENS, token_batches

ASSETS = tuple(decoded_asset(event) for event in EVENTS)


def tokens_seen(run: Run, partition: str) -> dict[str, set[str]]:
    seen: dict[str, set[str]] = defaultdict(set)
    for dataset, column in TOKEN_SOURCES:
        if dataset.name not in run.inputs:  # a chain without it (no wrapped native token, catalogue.chain_assets)
            continue
        for address in distinct_values(run.inputs[dataset.name][partition].iter_batches(), column):
            seen[address].add(dataset.name)
    return seen


TOKENS_ASSET = contract_reads_asset(TOKENS, tuple(dict.fromkeys(d for d, _ in TOKEN_SOURCES)), tokens_seen,
                                    token_batches, group="tokens", errors_column="metadata_errors")
