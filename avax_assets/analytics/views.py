"""Analytics in ClickHouse: the views a user queries first. They read the loaded tables, which hold
each partition exactly once, so no FINAL is needed; sums of wei and token amounts stay exact (UInt256),
and amounts in token units are exact decimal text (base units shifted by the token's decimals, which a
Float64 or a fixed-scale Decimal could not hold for every token)."""

from avax_assets.chain.datasets import TRANSACTIONS
from avax_assets.core.chart import Chart
from avax_assets.core.schema import View
from avax_assets.events.datasets import DEX_POOLS, LB_SWAP, UNISWAP_V2_SWAP, UNISWAP_V3_SWAP
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
LATEST_TOKENS = (f"(SELECT token_address, argMax(tuple(symbol, decimals), block_number) AS latest "
                 f"FROM {{db}}.{TOKENS.table} GROUP BY token_address)")
LATEST_POOLS = (f"(SELECT pool_address, argMax(tuple(dex, token0, token1), block_number) AS latest "
                f"FROM {{db}}.{DEX_POOLS.table} GROUP BY pool_address)")
SWAP_POSITION = "block_number, block_timestamp, transaction_hash, log_index, contract_address AS pool_address"


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

VIEWS = (
    View(
        "daily_chain_activity",
        "Per UTC day: transactions, failures, active addresses (senders or receivers), gas used and fees "
        "(exact wei), and the gas-weighted average effective gas price.",
        (TRANSACTIONS,),
        """
        SELECT toDate(block_timestamp) AS day,
               count() AS transactions,
               countIf(status = 0) AS failed_transactions,
               uniqExact(from_address) AS active_senders,
               uniqExactArray([from_address, ifNull(to_address, from_address)]) AS active_addresses,
               sum(gas_used) AS total_gas_used,
               sum(transaction_fee) AS fees_wei,
               intDiv(sum(transaction_fee), greatest(sum(gas_used), 1)) AS avg_effective_gas_price_wei
        FROM {db}.transactions
        GROUP BY day
        """,
        Chart("C-Chain activity per UTC day", "day", (("transactions", "transactions"),
                                                       ("active_addresses", "active addresses"),
                                                       ("total_gas_used", "gas used"))),
    ),
    View(
        "erc20_daily_volume",
        "Per UTC day and ERC-20 token: transfers, volume (exact base units, and token units when the token "
        "has decimals), distinct senders and receivers, with the token's symbol.",
        (ERC20_TRANSFERS, TOKENS),
        f"""
        SELECT v.*, tupleElement(t.latest, 1) AS symbol, tupleElement(t.latest, 2) AS decimals,
               {token_units('v.volume', 'tupleElement(t.latest, 2)')} AS volume_units
        FROM (
            SELECT toDate(block_timestamp) AS day, token_address,
                   count() AS transfers, sum(value) AS volume,
                   uniqExact(from_address) AS senders, uniqExact(to_address) AS receivers
            FROM {{db}}.erc20_transfers
            GROUP BY day, token_address
        ) AS v
        LEFT JOIN {LATEST_TOKENS} AS t ON t.token_address = v.token_address
        """,
    ),
    View(
        "erc20_balances",
        "Current ERC-20 balance per (token, holder) over every loaded day, from transfers: received and sent "
        "exact (UInt256); balance as Int256 (a negative balance means transfers are missing), and in token "
        "units with the token's symbol.",
        (ERC20_TRANSFERS, TOKENS),
        f"""
        SELECT b.*, tupleElement(t.latest, 1) AS symbol,
               {signed_token_units('b.balance', 'tupleElement(t.latest, 2)')} AS balance_units
        FROM (
            SELECT token_address, holder,
                   sumIf(value, direction = 1) AS received,
                   sumIf(value, direction = -1) AS sent,
                   toInt256(received) - toInt256(sent) AS balance,
                   max(block_number) AS last_block
            FROM (
                SELECT token_address, to_address AS holder, value, 1 AS direction, block_number
                FROM {{db}}.erc20_transfers
                UNION ALL
                SELECT token_address, from_address AS holder, value, -1 AS direction, block_number
                FROM {{db}}.erc20_transfers
            )
            WHERE holder != '{ZERO_ADDRESS}'
            GROUP BY token_address, holder
        ) AS b
        LEFT JOIN {LATEST_TOKENS} AS t ON t.token_address = b.token_address
        """,
    ),
    View(
        "swaps",
        "Every swap decoded from logs across the DEX kinds (Uniswap V2 style, Uniswap v3 style, Liquidity "
        "Book): pool, token in and out, amounts in base units (exact UInt256) and in token units (exact "
        "decimal text; null while a token's decimals are unknown), sender, recipient and transaction.",
        (UNISWAP_V2_SWAP.dataset, UNISWAP_V3_SWAP.dataset, LB_SWAP.dataset, DEX_POOLS, TOKENS),
        f"""
        SELECT s.block_number, s.block_timestamp, s.transaction_hash, s.log_index, s.dex, s.pool_address,
               s.token_in, tupleElement(ti.latest, 1) AS symbol_in, s.amount_in,
               {token_units('s.amount_in', 'tupleElement(ti.latest, 2)')} AS amount_in_units,
               s.token_out, tupleElement(tout.latest, 1) AS symbol_out, s.amount_out,
               {token_units('s.amount_out', 'tupleElement(tout.latest, 2)')} AS amount_out_units,
               s.sender, s.recipient
        FROM (
            SELECT l.*, if(l.token0_in, tupleElement(p.latest, 2), tupleElement(p.latest, 3)) AS token_in,
                   if(l.token0_in, tupleElement(p.latest, 3), tupleElement(p.latest, 2)) AS token_out
            FROM ({SWAP_LEGS}) AS l
            LEFT JOIN {LATEST_POOLS} AS p ON p.pool_address = l.pool_address
        ) AS s
        LEFT JOIN {LATEST_TOKENS} AS ti ON ti.token_address = s.token_in
        LEFT JOIN {LATEST_TOKENS} AS tout ON tout.token_address = s.token_out
        """,
    ),
)
