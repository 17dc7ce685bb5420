"""Analytics in ClickHouse: the views a user queries first. They read the loaded tables, which hold
each partition exactly once, so no FINAL is needed; sums of wei stay exact (UInt256)."""


import dagster as dg

from avax_assets import pools
from avax_assets.resources import ClickHouseResource

ZERO_ADDRESS = "0x" + "0" * 40

VIEWS: dict[str, tuple[str, list[str], str]] = {
    "daily_chain_activity": (
        "Per UTC day: transactions, failures, active addresses (senders or receivers), gas used and fees "
        "(exact wei), and the gas-weighted average effective gas price.",
        ["clickhouse_transactions"],
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
    ),
    "erc20_daily_volume": (
        "Per UTC day and ERC-20 token: transfers, volume (exact base units), distinct senders and receivers.",
        ["clickhouse_erc20_transfers"],
        """
        SELECT toDate(block_timestamp) AS day, token_address,
               count() AS transfers, sum(value) AS volume,
               uniqExact(from_address) AS senders, uniqExact(to_address) AS receivers
        FROM {db}.erc20_transfers
        GROUP BY day, token_address
        """,
    ),
    "erc20_balances": (
        "Current ERC-20 balance per (token, holder) over every loaded day, from transfers: received and sent "
        "exact (UInt256); balance as Int256 (a negative balance means transfers are missing).",
        ["clickhouse_erc20_transfers"],
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
}


def view_asset(name: str, description: str, deps: list[str], select: str) -> dg.AssetsDefinition:
    @dg.asset(name=name, description=description, deps=deps, group_name="analytics", pool=pools.CLICKHOUSE,
              kinds={"clickhouse"})
    def _view(context: dg.AssetExecutionContext, clickhouse: ClickHouseResource) -> dg.MaterializeResult:
        warehouse = clickhouse.warehouse()
        sql = select.format(db=warehouse.database)
        warehouse.client.command(f"CREATE DATABASE IF NOT EXISTS {warehouse.database}")
        warehouse.client.command(f"CREATE OR REPLACE VIEW {warehouse.qualified(name)} AS {sql}")
        rows = warehouse.client.query(f"SELECT count() FROM {warehouse.qualified(name)}").result_rows[0][0]
        return dg.MaterializeResult(metadata={"rows": rows, "view": warehouse.qualified(name),
                                              "sql": dg.MetadataValue.md(f"```sql\n{sql.strip()}\n```")})

    return _view


analytics_assets = [view_asset(name, *spec) for name, spec in VIEWS.items()]
