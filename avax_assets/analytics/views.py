"""Analytics in ClickHouse: the views a user queries first. They read the loaded tables, which hold
each partition exactly once, so no FINAL is needed; sums of wei and token amounts stay exact (UInt256),
and amounts in token units are exact decimal text (base units shifted by the token's decimals, which a
Float64 or a fixed-scale Decimal could not hold for every token)."""

from avax_assets.analytics.icm import ICM_VIEWS
from avax_assets.avacloud.snapshots import BLOCKCHAINS, CHAINS, DELEGATORS, VALIDATORS
from avax_assets.chain.datasets import BLOCKS, TRANSACTIONS
from avax_assets.core.chart import Chart
from avax_assets.core.schema import View
from avax_assets.events.datasets import DEX_POOLS, LB_SWAP, UNISWAP_V2_SWAP, UNISWAP_V3_SWAP
from avax_assets.primary.datasets import (ATOMIC_INPUTS_OUTPUTS, ATOMIC_TRANSACTIONS, P_CHAIN_BLOCKS, P_CHAIN_REWARDS,
                                          P_CHAIN_TRANSACTIONS, P_CHAIN_UTXOS)
from avax_assets.primary.ids import AVAX_ASSET, C_CHAINS, P_CHAIN, X_CHAINS
from avax_assets.tokens.datasets import ERC20_TRANSFERS
from avax_assets.tokens.metadata import TOKENS

ZERO_ADDRESS = "0x" + "0" * 40


def token_units(amount: str, decimals: str) -> str:
    """SQL: `amount` (an unsigned integer) ÷ 10^`decimals` as exact decimal text, NULL without decimals."""
    digits = f"toString({amount})"
    padded = f"leftPad({digits}, greatest(length({digits}), toUInt64({decimals}) + 1), '0')"  # leftPad truncates
    return (f"if({decimals} IS NULL, NULL, if({decimals} = 0, {digits}, concat(substring({padded}, 1, "
            f"length({padded}) - {decimals}), '.', substring({padded}, length({padded}) - {decimals} + 1))))")


def signed_token_units(amount: str, decimals: str) -> str:
    return f"concat(if({amount} < 0, '-', ''), {token_units(f'abs({amount})', decimals)})"


# each token's and each pool's latest loaded day (a day's row is that day's state)
LATEST_TOKENS = (f"(SELECT chain_id, token_address, argMax(tuple(symbol, decimals), block_number) AS latest "
                 f"FROM {{db}}.{TOKENS.table} GROUP BY chain_id, token_address)")
LATEST_POOLS = (f"(SELECT chain_id, pool_address, argMax(tuple(dex, token0, token1), block_number) AS latest "
                f"FROM {{db}}.{DEX_POOLS.table} GROUP BY chain_id, pool_address)")
SWAP_POSITION = ("chain_id, block_number, block_timestamp, transaction_hash, log_index, "
                 "contract_address AS pool_address")


def _packed(column: str, high: bool) -> str:
    """One uint128 of a Liquidity Book bytes32 (hex text): X in the low 128 bits, Y in the high."""
    return f"toUInt256(reinterpretAsUInt128(reverse(unhex(substring({column}, {3 if high else 35}, 32)))))"


# one row per swap, from the pool's side: did token0 (token X) go in, and the amounts in and out
SWAP_LEGS = f"""
        SELECT 'uniswap_v2' AS dex, {SWAP_POSITION}, amount0_in > 0 AS token0_in,
               if(amount0_in > 0, amount0_in, amount1_in) AS amount_in,
               if(amount0_in > 0, amount1_out, amount0_out) AS amount_out, sender, to_address AS recipient
        FROM {{db}}.{UNISWAP_V2_SWAP.dataset.table}
        UNION ALL
        SELECT 'uniswap_v3', {SWAP_POSITION}, amount0 > 0,
               toUInt256(if(amount0 > 0, amount0, amount1)), toUInt256(-if(amount0 > 0, amount1, amount0)),
               sender, recipient
        FROM {{db}}.{UNISWAP_V3_SWAP.dataset.table}
        UNION ALL
        SELECT 'liquidity_book', {SWAP_POSITION}, x_in > 0, if(x_in > 0, x_in, y_in), if(x_in > 0, y_out, x_out),
               sender, to_address
        FROM (SELECT *, {_packed('amounts_in', False)} AS x_in, {_packed('amounts_in', True)} AS y_in,
                        {_packed('amounts_out', False)} AS x_out, {_packed('amounts_out', True)} AS y_out
              FROM {{db}}.{LB_SWAP.dataset.table})"""

STAKING_TYPES = ("'AddValidatorTx', 'AddPermissionlessValidatorTx', 'AddAutoRenewedValidatorTx'",
                 "'AddDelegatorTx', 'AddPermissionlessDelegatorTx'")
L1_TYPES = ("'ConvertSubnetToL1Tx', 'RegisterL1ValidatorTx', 'SetL1ValidatorWeightTx', 'IncreaseL1ValidatorBalanceTx', "
            "'DisableL1ValidatorTx'")
def _any_of(ids: dict[int, str]) -> str:
    """SQL: the ids of one chain (or asset) on every network, as a list for IN: they never collide."""
    return f"({', '.join(repr(value) for value in ids.values())})"


C_CHAIN_IDS, X_CHAIN_IDS, AVAX_ASSET_IDS = _any_of(C_CHAINS), _any_of(X_CHAINS), _any_of(AVAX_ASSET)
CHAIN_NAMES = f"multiIf({{id}} IN {C_CHAIN_IDS}, 'C', {{id}} = '{P_CHAIN}', 'P', {{id}} IN {X_CHAIN_IDS}, 'X', {{id}})"


def chain_name(column: str) -> str:
    """SQL: the primary network's chains by letter (on mainnet and Fuji), any other blockchain by its id."""
    return CHAIN_NAMES.format(id=column)


# AVAX crossing between the C-Chain and the P- or X-Chain, one row per UTXO and side: what the exporting chain
# put in shared memory and what the importing chain took (the same UTXO id on both sides)
CROSSINGS = f"""
        SELECT 'sent' AS side, concat('C→', {chain_name('t.destination_blockchain_id')}) AS corridor, io.utxo_id,
               io.transaction_id, io.block_timestamp AS at, io.asset_id, io.amount
        FROM {{db}}.{ATOMIC_INPUTS_OUTPUTS.table} AS io
        JOIN {{db}}.{ATOMIC_TRANSACTIONS.table} AS t USING (block_number, transaction_id)
        WHERE io.io_type = 'utxo_output'
        UNION ALL
        SELECT 'received', concat({chain_name('t.source_blockchain_id')}, '→C'), io.utxo_id, io.transaction_id,
               io.block_timestamp, io.asset_id, io.amount
        FROM {{db}}.{ATOMIC_INPUTS_OUTPUTS.table} AS io
        JOIN {{db}}.{ATOMIC_TRANSACTIONS.table} AS t USING (block_number, transaction_id)
        WHERE io.io_type = 'utxo_input'
        UNION ALL
        SELECT 'sent', 'P→C', utxo_id, transaction_id, block_timestamp, asset_id, amount
        FROM {{db}}.{P_CHAIN_UTXOS.table}
        WHERE direction = 'produced' AND consumed_on_blockchain_id IN {C_CHAIN_IDS}
        UNION ALL
        SELECT 'received', 'C→P', utxo_id, transaction_id, block_timestamp, asset_id, amount
        FROM {{db}}.{P_CHAIN_UTXOS.table}
        WHERE direction = 'consumed' AND created_on_blockchain_id IN {C_CHAIN_IDS}"""

PRIMARY_NETWORK_VIEWS = (
    View(
        "p_chain_daily_staking",
        "Per UTC day on the P-Chain: validations and delegations started and the AVAX they locked, and the rewards "
        "paid (validator, delegator, validator fee), all exact nAVAX.",
        (P_CHAIN_TRANSACTIONS, P_CHAIN_REWARDS),
        f"""
        SELECT day, sum(validations) AS validations_started, sum(validator_stake) AS validator_stake_navax,
               sum(delegations) AS delegations_started, sum(delegator_stake) AS delegator_stake_navax,
               sum(validator_rewards) AS validator_rewards_navax, sum(delegator_rewards) AS delegator_rewards_navax,
               sum(fee_rewards) AS validator_fee_rewards_navax
        FROM (
            SELECT toDate(block_timestamp) AS day,
                   countIf(tx_type IN ({STAKING_TYPES[0]})) AS validations,
                   sumIf(ifNull(amount_staked, 0), tx_type IN ({STAKING_TYPES[0]})) AS validator_stake,
                   countIf(tx_type IN ({STAKING_TYPES[1]})) AS delegations,
                   sumIf(ifNull(amount_staked, 0), tx_type IN ({STAKING_TYPES[1]})) AS delegator_stake,
                   toUInt256(0) AS validator_rewards, toUInt256(0) AS delegator_rewards, toUInt256(0) AS fee_rewards
            FROM {{db}}.{P_CHAIN_TRANSACTIONS.table}
            GROUP BY day
            UNION ALL
            SELECT toDate(block_timestamp), 0, toUInt256(0), 0, toUInt256(0),
                   sumIf(reward_amount, reward_type = 'VALIDATOR'), sumIf(reward_amount, reward_type = 'DELEGATOR'),
                   sumIf(reward_amount, reward_type = 'VALIDATOR_FEE')
            FROM {{db}}.{P_CHAIN_REWARDS.table}
            GROUP BY 1
        )
        GROUP BY day
        """,
    ),
    View(
        "l1_validator_fees_daily",
        "Per UTC day: the L1 validator transactions (ACP-77), the AVAX they put into validator balances and burned "
        "as fees, and the continuous fees L1 validators paid since the previous loaded day (from the blocks' "
        "cumulative count; null from a P-Chain node source, and on the first loaded day), all exact nAVAX.",
        (P_CHAIN_TRANSACTIONS, P_CHAIN_BLOCKS),
        f"""
        SELECT d.day AS day, ifNull(t.l1_transactions, 0) AS l1_transactions,
               ifNull(t.balance_deposited, toUInt256(0)) AS balance_deposited_navax,
               ifNull(t.fees_burned, toUInt256(0)) AS transaction_fees_navax,
               d.accrued - d.previous AS continuous_fees_navax
        FROM (
            SELECT day, accrued, lagInFrame(accrued) OVER (ORDER BY day ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)
                   AS previous
            FROM (SELECT toDate(block_timestamp) AS day, max(l1_validators_accrued_fees) AS accrued
                  FROM {{db}}.{P_CHAIN_BLOCKS.table} GROUP BY day)
        ) AS d
        LEFT JOIN (
            SELECT toDate(block_timestamp) AS day, count() AS l1_transactions,
                   sum(ifNull(l1_validator_balance, 0)) AS balance_deposited, sum(ifNull(fee_burned, 0)) AS fees_burned
            FROM {{db}}.{P_CHAIN_TRANSACTIONS.table}
            WHERE tx_type IN ({L1_TYPES})
            GROUP BY day
        ) AS t ON t.day = d.day
        """,
    ),
    View(
        "avax_c_p_flows_daily",
        "Per UTC day and corridor (C→P, P→C, C→X, X→C): the AVAX (mainnet's asset id) the exporting chain sent "
        "and the AVAX the importing chain received that day, as UTXOs (exact nAVAX), and how many; from the "
        "C-Chain's decoded atomic transactions and the P-Chain's UTXOs (the X-Chain's side is not loaded).",
        (ATOMIC_INPUTS_OUTPUTS, ATOMIC_TRANSACTIONS, P_CHAIN_UTXOS),
        f"""
        SELECT toDate(at) AS day, corridor, countIf(side = 'sent') AS utxos_sent,
               sumIf(amount, side = 'sent') AS sent_navax, countIf(side = 'received') AS utxos_received,
               sumIf(amount, side = 'received') AS received_navax
        FROM ({CROSSINGS})
        WHERE asset_id IN {AVAX_ASSET_IDS}
        GROUP BY day, corridor
        """,
    ),
    View(
        "c_p_flow_matches",
        "Every UTXO crossing between the C-Chain and the P-Chain (or X-Chain) matched by its UTXO id: the export "
        "that sent it and the import that took it, with the time it took; an unmatched one with its age (an export "
        "not imported yet, an import whose export's day is not loaded, or the X-Chain's side, which is not loaded).",
        (ATOMIC_INPUTS_OUTPUTS, ATOMIC_TRANSACTIONS, P_CHAIN_UTXOS),
        f"""
        SELECT utxo_id, any(corridor) AS corridor,
               multiIf(countIf(side = 'sent') > 0 AND countIf(side = 'received') > 0, 'matched',
                       countIf(side = 'sent') > 0, 'not imported yet', 'export not loaded') AS status,
               anyIf(toNullable(transaction_id), side = 'sent') AS export_transaction_id,
               anyIf(toNullable(at), side = 'sent') AS exported_at,
               anyIf(toNullable(transaction_id), side = 'received') AS import_transaction_id,
               anyIf(toNullable(at), side = 'received') AS imported_at,
               anyIf(toNullable(amount), side = 'sent') AS sent_navax,
               anyIf(toNullable(amount), side = 'received') AS received_navax,
               if(status = 'matched', dateDiff('second', exported_at, imported_at), NULL) AS crossing_seconds,
               if(status = 'matched', NULL, dateDiff('second', coalesce(exported_at, imported_at), now()))
                   AS unmatched_age_seconds
        FROM ({CROSSINGS})
        GROUP BY utxo_id
        """,
    ),
    View(
        "staking_snapshot_matches",
        "Every current (active or pending) primary-network validator and delegator of the newest snapshot, with "
        "its staking transaction in p_chain_transactions when that day is loaded (found = false: not loaded, or "
        "missing).",
        (VALIDATORS, DELEGATORS, P_CHAIN_TRANSACTIONS),
        f"""
        SELECT s.kind AS kind, s.tx_hash AS tx_hash, s.node_id AS node_id, s.status AS status,
               s.amount AS amount_navax, t.transaction_id != '' AS found,
               if(found, t.tx_type, NULL) AS tx_type,
               if(found, t.block_timestamp, NULL) AS block_timestamp
        FROM (
            SELECT 'validator' AS kind, assumeNotNull(tx_hash) AS tx_hash, node_id, validation_status AS status,
                   ifNull(amount_staked, toUInt256(0)) AS amount
            FROM {{db}}.{VALIDATORS.table}
            WHERE snapshot_date = (SELECT max(snapshot_date) FROM {{db}}.{VALIDATORS.table})
              AND validator_kind = 'primary_network' AND validation_status IN ('active', 'pending')
            UNION ALL
            SELECT 'delegator', tx_hash, node_id, delegation_status, amount_delegated
            FROM {{db}}.{DELEGATORS.table}
            WHERE snapshot_date = (SELECT max(snapshot_date) FROM {{db}}.{DELEGATORS.table})
              AND delegation_status IN ('active', 'pending')
        ) AS s
        LEFT JOIN {{db}}.{P_CHAIN_TRANSACTIONS.table} AS t ON t.transaction_id = s.tx_hash
        """,
    ),
)

CHAINS_INGESTED = View(
    "chains_ingested",
    "Every EVM chain the AvaCloud Data API lists (its newest `chains` snapshot, with the blockchain id from "
    "`blockchains`) and every chain whose blocks are loaded: whether we ingest it, and its first and last loaded "
    "day and blocks.",
    (CHAINS, BLOCKCHAINS, BLOCKS),
    """
    SELECT c.id AS chain_id, nullIf(l.chain_name, '') AS chain_name, nullIf(l.vm_name, '') AS vm_name,
           nullIf(l.network_token_symbol, '') AS native_symbol, nullIf(bc.blockchain_id, '') AS blockchain_id,
           l.listed = 1 AS listed_by_avacloud, b.blocks > 0 AS ingested,
           if(b.blocks > 0, b.first_day, NULL) AS first_loaded_day,
           if(b.blocks > 0, b.last_day, NULL) AS last_loaded_day, b.blocks AS loaded_blocks
    FROM (
        SELECT assumeNotNull(toUInt64OrNull(chain_id)) AS id FROM {db}.chains
        WHERE isNotNull(toUInt64OrNull(chain_id))
        UNION DISTINCT SELECT chain_id AS id FROM {db}.blocks
    ) AS c
    LEFT JOIN (
        SELECT toUInt64OrZero(chain_id) AS id, 1 AS listed, chain_name, vm_name, network_token_symbol
        FROM {db}.chains
        WHERE snapshot_date = (SELECT max(snapshot_date) FROM {db}.chains) AND isNotNull(toUInt64OrNull(chain_id))
    ) AS l ON l.id = c.id
    LEFT JOIN (
        SELECT chain_id AS id, count() AS blocks, min(toDate(block_timestamp)) AS first_day,
               max(toDate(block_timestamp)) AS last_day
        FROM {db}.blocks GROUP BY id
    ) AS b ON b.id = c.id
    LEFT JOIN (
        SELECT assumeNotNull(evm_chain_id) AS id, any(blockchain_id) AS blockchain_id FROM {db}.blockchains
        WHERE isNotNull(evm_chain_id) AND snapshot_date = (SELECT max(snapshot_date) FROM {db}.blockchains)
        GROUP BY id
    ) AS bc ON bc.id = c.id
    """,
)

VIEWS = (
    View(
        "daily_chain_activity",
        "Per UTC day and chain: transactions, failures, active addresses (senders or receivers), gas used and fees "
        "(exact wei of the chain's native token), and the gas-weighted average effective gas price.",
        (TRANSACTIONS,),
        """
        SELECT toDate(block_timestamp) AS day, chain_id,
               count() AS transactions,
               countIf(status = 0) AS failed_transactions,
               uniqExact(from_address) AS active_senders,
               uniqExactArray([from_address, ifNull(to_address, from_address)]) AS active_addresses,
               sum(gas_used) AS total_gas_used,
               sum(transaction_fee) AS fees_wei,
               intDiv(sum(transaction_fee), greatest(sum(gas_used), 1)) AS avg_effective_gas_price_wei
        FROM {db}.transactions
        GROUP BY day, chain_id
        """,
        Chart("Activity per UTC day", "day", (("transactions", "transactions"),
                                              ("active_addresses", "active addresses"),
                                              ("total_gas_used", "gas used")), by="chain_id", by_label="chain"),
    ),
    View(
        "erc20_daily_volume",
        "Per UTC day, chain and ERC-20 token: transfers, volume (exact base units, and token units when the token "
        "has decimals), distinct senders and receivers, with the token's symbol.",
        (ERC20_TRANSFERS, TOKENS),
        f"""
        SELECT v.*, tupleElement(t.latest, 1) AS symbol, tupleElement(t.latest, 2) AS decimals,
               {token_units('v.volume', 'tupleElement(t.latest, 2)')} AS volume_units
        FROM (
            SELECT toDate(block_timestamp) AS day, chain_id, token_address,
                   count() AS transfers, sum(value) AS volume,
                   uniqExact(from_address) AS senders, uniqExact(to_address) AS receivers
            FROM {{db}}.erc20_transfers
            GROUP BY day, chain_id, token_address
        ) AS v
        LEFT JOIN {LATEST_TOKENS} AS t ON t.chain_id = v.chain_id AND t.token_address = v.token_address
        """,
    ),
    View(
        "erc20_balances",
        "Current ERC-20 balance per (chain, token, holder) over every loaded day, from transfers: received and sent "
        "exact (UInt256); balance as Int256 (a negative balance means transfers are missing), and in token "
        "units with the token's symbol.",
        (ERC20_TRANSFERS, TOKENS),
        f"""
        SELECT b.*, tupleElement(t.latest, 1) AS symbol,
               {signed_token_units('b.balance', 'tupleElement(t.latest, 2)')} AS balance_units
        FROM (
            SELECT chain_id, token_address, holder,
                   sumIf(value, direction = 1) AS received,
                   sumIf(value, direction = -1) AS sent,
                   toInt256(received) - toInt256(sent) AS balance,
                   max(block_number) AS last_block
            FROM (
                SELECT chain_id, token_address, to_address AS holder, value, 1 AS direction, block_number
                FROM {{db}}.erc20_transfers
                UNION ALL
                SELECT chain_id, token_address, from_address AS holder, value, -1 AS direction, block_number
                FROM {{db}}.erc20_transfers
            )
            WHERE holder != '{ZERO_ADDRESS}'
            GROUP BY chain_id, token_address, holder
        ) AS b
        LEFT JOIN {LATEST_TOKENS} AS t ON t.chain_id = b.chain_id AND t.token_address = b.token_address
        """,
    ),
    View(
        "swaps",
        "Every swap decoded from logs across the DEX kinds (Uniswap V2 style, Uniswap v3 style, Liquidity "
        "Book): pool, token in and out, amounts in base units (exact UInt256) and in token units (exact "
        "decimal text; null while a token's decimals are unknown), sender, recipient and transaction.",
        (UNISWAP_V2_SWAP.dataset, UNISWAP_V3_SWAP.dataset, LB_SWAP.dataset, DEX_POOLS, TOKENS),
        f"""
        SELECT s.chain_id, s.block_number, s.block_timestamp, s.transaction_hash, s.log_index, s.dex, s.pool_address,
               s.token_in, tupleElement(ti.latest, 1) AS symbol_in, s.amount_in,
               {token_units('s.amount_in', 'tupleElement(ti.latest, 2)')} AS amount_in_units,
               s.token_out, tupleElement(tout.latest, 1) AS symbol_out, s.amount_out,
               {token_units('s.amount_out', 'tupleElement(tout.latest, 2)')} AS amount_out_units,
               s.sender, s.recipient
        FROM (
            SELECT l.*, if(l.token0_in, tupleElement(p.latest, 2), tupleElement(p.latest, 3)) AS token_in,
                   if(l.token0_in, tupleElement(p.latest, 3), tupleElement(p.latest, 2)) AS token_out
            FROM ({SWAP_LEGS}) AS l
            LEFT JOIN {LATEST_POOLS} AS p ON p.chain_id = l.chain_id AND p.pool_address = l.pool_address
        ) AS s
        LEFT JOIN {LATEST_TOKENS} AS ti ON ti.chain_id = s.chain_id AND ti.token_address = s.token_in
        LEFT JOIN {LATEST_TOKENS} AS tout ON tout.chain_id = s.chain_id AND tout.token_address = s.token_out
        """,
    ),
    CHAINS_INGESTED,
    *PRIMARY_NETWORK_VIEWS,
    *ICM_VIEWS,
)
