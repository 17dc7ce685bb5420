"""Analytics in ClickHouse: the views a user queries first. They read the loaded tables, which hold
each partition exactly once, so no FINAL is needed; sums of wei stay exact (UInt256)."""

from avax_assets.chain.datasets import TRANSACTIONS
from avax_assets.core.chart import Chart
from avax_assets.core.schema import View
from avax_assets.tokens.datasets import ERC20_TRANSFERS

ZERO_ADDRESS = "0x" + "0" * 40

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
        "Per UTC day and ERC-20 token: transfers, volume (exact base units), distinct senders and receivers.",
        (ERC20_TRANSFERS,),
        """
        SELECT toDate(block_timestamp) AS day, token_address,
               count() AS transfers, sum(value) AS volume,
               uniqExact(from_address) AS senders, uniqExact(to_address) AS receivers
        FROM {db}.erc20_transfers
        GROUP BY day, token_address
        """,
    ),
    View(
        "erc20_balances",
        "Current ERC-20 balance per (token, holder) over every loaded day, from transfers: received and sent "
        "exact (UInt256); balance as Int256 (a negative balance means transfers are missing).",
        (ERC20_TRANSFERS,),
        f"""
        SELECT token_address, holder,
               sumIf(value, direction = 1) AS received,
               sumIf(value, direction = -1) AS sent,
               toInt256(received) - toInt256(sent) AS balance,
               max(block_number) AS last_block
        FROM (
            SELECT token_address, to_address AS holder, value, 1 AS direction, block_number FROM {{db}}.erc20_transfers
            UNION ALL
            SELECT token_address, from_address AS holder, value, -1 AS direction, block_number FROM {{db}}.erc20_transfers
        )
        WHERE holder != '{ZERO_ADDRESS}'
        GROUP BY token_address, holder
        """,
    ),
)
