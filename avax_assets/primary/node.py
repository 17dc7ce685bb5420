"""The P-Chain from a node's platform API (avalanchego `…/ext/bc/P`): the same rows as the Data API source,
as far as the node says them.

A day's heights are found by binary search on block times (`platform.getHeight`, `platform.getBlockByHeight`);
each block is read twice: `json` gives its transactions, `hex` its type (the codec's type id: the JSON of a
commit and an abort block is the same) and size. The JSON names no transaction type: it is recognised by the
fields avalanchego's JSON gives each type (vms/platformvm/txs, their `json` tags); a field set no type has is
UNKNOWN, kept and counted. The platform API takes one call per request (no batches).

What the node does not say is null: a consumed UTXO's owners (the transaction holds only the spending input),
the proposer, the Data API's fee, supply and reward estimates, the L1 validation behind a Warp message. The
UTXOs a RewardValidatorTx returns and pays are not in its JSON either. Blocks before Banff (mainnet
2022-10-18) carry no time: days before it are refused (the Data API source has them).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import httpx
import pyarrow as pa

from avax_assets.core.days import BlockRange, day_block_range, partition_day
from avax_assets.core.errors import (BadField, MalformedResponse, PermanentError, RpcError, SourceDataError,
                                     SourceRefused)
from avax_assets.core.http import (asked_until_well_formed, bounded, http_client, redact_url, redacted, refusal_hint,
                                   send_with_retries)
from avax_assets.primary import ids
from avax_assets.core.schema import U256
from avax_assets.primary.datasets import P_CHAIN_BLOCKS, P_CHAIN_TRANSACTIONS, P_CHAIN_UTXOS
from avax_assets.primary.settings import PChainSettings

# avalanchego vms/platformvm/block/codec.go: the block types' ids in the P-Chain codec
BLOCK_TYPES = {0: "ApricotProposalBlock", 1: "ApricotAbortBlock", 2: "ApricotCommitBlock", 3: "ApricotStandardBlock",
               4: "ApricotAtomicBlock", 29: "BanffProposalBlock", 30: "BanffAbortBlock", 31: "BanffCommitBlock",
               32: "BanffStandardBlock"}
BASE_FIELDS = frozenset({"networkID", "blockchainID", "outputs", "inputs", "memo"})
# Each transaction type by the fields its JSON has beyond BaseTx's, most specific first (avalanchego json tags)
TRANSACTION_FIELDS: tuple[tuple[str, frozenset[str]], ...] = tuple((name, frozenset(fields)) for name, fields in (
    ("DisableL1ValidatorTx", {"validationID", "disableAuthorization"}),
    ("IncreaseL1ValidatorBalanceTx", {"validationID", "balance"}),
    ("RegisterL1ValidatorTx", {"balance", "proofOfPossession", "message"}),
    ("SetL1ValidatorWeightTx", {"message"}),
    ("ConvertSubnetToL1Tx", {"subnetID", "chainID", "address", "validators", "subnetAuthorization"}),
    ("TransferSubnetOwnershipTx", {"subnetID", "subnetAuthorization", "newOwner"}),
    ("TransformSubnetTx", {"subnetID", "assetID", "initialSupply", "maximumSupply", "minConsumptionRate",
                           "maxConsumptionRate", "minValidatorStake", "maxValidatorStake", "minStakeDuration",
                           "maxStakeDuration", "minDelegationFee", "minDelegatorStake", "maxValidatorWeightFactor",
                           "uptimeRequirement", "subnetAuthorization"}),
    ("CreateChainTx", {"subnetID", "chainName", "vmID", "fxIDs", "genesisData", "subnetAuthorization"}),
    ("CreateSubnetTx", {"owner"}),
    ("ImportTx", {"sourceChain", "importedInputs"}),
    ("ExportTx", {"destinationChain", "exportedOutputs"}),
    ("AddAutoRenewedValidatorTx", {"nodeID", "signer", "stake", "validationRewardsOwner", "delegationRewardsOwner",
                                   "validatorAuthority", "delegationShares", "autoCompoundRewardShares", "period"}),
    ("SetAutoRenewedValidatorConfigTx", {"txID", "auth", "autoCompoundRewardShares", "period"}),
    ("AddPermissionlessValidatorTx", {"validator", "subnetID", "signer", "stake", "validationRewardsOwner",
                                      "delegationRewardsOwner", "shares"}),
    ("AddPermissionlessDelegatorTx", {"validator", "subnetID", "stake", "rewardsOwner"}),
    ("AddValidatorTx", {"validator", "stake", "rewardsOwner", "shares"}),
    ("AddDelegatorTx", {"validator", "stake", "rewardsOwner"}),
    ("AddSubnetValidatorTx", {"validator", "subnetAuthorization"}),
    ("RemoveSubnetValidatorTx", {"nodeID", "subnetID", "subnetAuthorization"}),
))
# transactions without BaseTx's fields: the whole JSON is theirs
BARE_TRANSACTIONS = (("RewardAutoRenewedValidatorTx", frozenset({"txID", "timestamp"})),
                     ("RewardValidatorTx", frozenset({"txID"})), ("AdvanceTimeTx", frozenset({"time"})))
KNOWN_TYPES = frozenset({name for name, _ in (*TRANSACTION_FIELDS, *BARE_TRANSACTIONS)} | {"BaseTx"})


def transaction_type(unsigned: dict) -> str:
    """A transaction's type from its JSON's fields (UNKNOWN when they fit no type exactly)."""
    keys = frozenset(unsigned)
    for name, fields in BARE_TRANSACTIONS:
        if keys == fields:
            return name
    if not BASE_FIELDS <= keys:
        return "UNKNOWN"
    extra = keys - BASE_FIELDS
    if not extra:
        return "BaseTx"
    return next((name for name, fields in TRANSACTION_FIELDS if extra == fields), "UNKNOWN")


class PlatformClient:
    """JSON-RPC 2.0 to a node's P-Chain API, one call per request, with the shared bounded retries."""

    def __init__(self, settings: PChainSettings, transport: httpx.BaseTransport | None = None) -> None:
        if not settings.rpc_url:
            raise PermanentError("no P-Chain node: set AVAX_P_CHAIN_RPC_URL")
        self.settings, self.url = settings, settings.rpc_url
        self.endpoint = f"{redact_url(self.url)}#p-chain"  # day ranges are cached per endpoint (core/days.py)
        limits = httpx.Limits(max_connections=settings.concurrency, max_keepalive_connections=settings.concurrency)
        self._http = http_client(settings.patience, transport, limits=limits)
        self._ids = iter(range(1, 2**62))
        self._lock = threading.Lock()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PlatformClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, method: str, params: dict) -> Any:
        with self._lock:
            number = next(self._ids)
        payload = {"jsonrpc": "2.0", "id": number, "method": method, "params": params}
        what = f"JSON-RPC {method} at {redact_url(self.url)}"
        patience = self.settings.patience
        return asked_until_well_formed(lambda: self._answer(method, params, payload, what), patience)

    def _answer(self, method: str, params: dict, payload: dict, what: str) -> Any:
        patience = self.settings.patience
        response = send_with_retries(lambda: bounded(self._http, "POST", self.url, json=payload, patience=patience,
                                                      what=what), what=what, patience=patience)
        if response.status_code != 200:
            raise RpcError(method, params, f"HTTP {response.status_code}",
                           redacted(response.text) + refusal_hint(response.status_code, patience))
        try:  # integers stay exact (uint64 amounts), fractions Decimal
            body = json.loads(response.content, parse_float=Decimal)
        except ValueError:
            raise MalformedResponse(f"{what}: the answer is not JSON ({len(response.content):,} bytes)") from None
        if not isinstance(body, dict) or ("result" not in body and "error" not in body):
            raise MalformedResponse(f"{what}: not a JSON-RPC answer: {redacted(response.text, 120)}")
        if body.get("error") is not None:
            error = body["error"] if isinstance(body["error"], dict) else {"message": str(body["error"])}
            raise RpcError(method, params, error.get("code"), redacted(str(error.get("message"))))
        return body["result"]

    def height(self) -> int:
        return _integer(self.call("platform.getHeight", {}).get("height"), "height")

    def block(self, height: int, encoding: str) -> Any:
        result = self.call("platform.getBlockByHeight", {"height": str(height), "encoding": encoding})
        if not isinstance(result, dict) or "block" not in result:
            raise SourceRefused(f"platform.getBlockByHeight({height}): no block in the answer")
        return result["block"]


def _integer(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise BadField(name, f"is not an integer: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    raise BadField(name, f"is not an integer: {value!r}")


class PChainClock:
    """The node as core/days.py's BlockClock: heights and block times (0 for a block without one: before Banff)."""

    def __init__(self, client: PlatformClient) -> None:
        self.client, self.endpoint = client, client.endpoint

    def latest_block(self) -> int:
        return self.client.height()

    def timestamp(self, number: int) -> int:
        block = self.client.block(number, "json")
        return _integer(block.get("time", 0), "time") if isinstance(block, dict) else 0


def day_heights(client: PlatformClient, partition: str) -> BlockRange:
    """The heights of the day's blocks; a day whose blocks may lack a time (before Banff) is refused."""
    clock = PChainClock(client)
    heights = day_block_range(clock, partition_day(partition))
    if heights.first > 0 and clock.timestamp(heights.first - 1) == 0:
        raise PermanentError(f"partition {partition}: the node gives no block time before Banff (block "
                             f"{heights.first - 1} has none), so it cannot place this day's blocks; unset "
                             "AVAX_P_CHAIN_RPC_URL to read the day from the AvaCloud Data API")
    return heights


# --- rows ---------------------------------------------------------------------------------------

class NodeRows:
    """One block of the node's into rows; a value that does not fit is named with the block and field."""

    def __init__(self, partition: str, height: int, network_id: int) -> None:
        self.partition, self.height, self.network_id = partition, height, network_id

    def fail(self, dataset, field: str, detail: str) -> SourceDataError:
        return SourceDataError(dataset.name, self.partition, field, detail, f"P-Chain block {self.height}")

    def block(self, block: dict, raw: str) -> dict:
        try:
            payload = bytes.fromhex(raw.removeprefix("0x"))
        except (ValueError, AttributeError):
            raise self.fail(P_CHAIN_BLOCKS, "block", "(hex encoding) is not hex") from None
        type_id = int.from_bytes(payload[2:6], "big") if len(payload) >= 6 else -1
        if type_id not in BLOCK_TYPES:
            raise self.fail(P_CHAIN_BLOCKS, "block", f"(hex encoding) has block type id {type_id}, not a known one")
        try:
            return {"block_number": _integer(block.get("height"), "height"),
                    "block_timestamp": _integer(block.get("time"), "time"), "block_id": _text(block, "id"),
                    "parent_block_id": _text(block, "parentID"), "block_type": BLOCK_TYPES[type_id],
                    "transaction_count": len(transactions_of(block)), "block_size": len(payload),
                    "proposer_node_id": None, "l1_validators_accrued_fees": None, "active_l1_validators": None,
                    "current_supply": None}
        except BadField as bad:
            raise self.fail(P_CHAIN_BLOCKS, bad.field, bad.detail) from None

    def transaction(self, block: dict, signed: dict) -> tuple[dict, list[dict]]:
        try:
            return self._transaction(block, signed)
        except BadField as bad:
            raise self.fail(P_CHAIN_TRANSACTIONS, bad.field, bad.detail) from None
        except (KeyError, TypeError, AttributeError) as exc:
            raise self.fail(P_CHAIN_TRANSACTIONS, "unsignedTx", f"does not have its type's shape ({exc!r})") from None

    def _transaction(self, block: dict, signed: dict) -> tuple[dict, list[dict]]:
        unsigned, tx_id = signed["unsignedTx"], _text(signed, "id")
        kind = transaction_type(unsigned)
        utxos = self._utxos(tx_id, kind, unsigned)
        row = {"block_number": block["block_number"], "block_timestamp": block["block_timestamp"],
               "block_id": block["block_id"], "transaction_id": tx_id, "tx_type": kind,
               "memo": unsigned.get("memo"), "utxo_count": len(utxos), **_staking(unsigned, self.network_id),
               **_l1(unsigned), **_atomic(kind, unsigned),
               "weight": _weight(unsigned), "estimated_reward": None, "reward_transaction_id": None,
               "staking_transaction_id": unsigned.get("txID") if kind == "RewardValidatorTx" else None}
        if kind == "CreateSubnetTx":  # a subnet's id is the id of the transaction that created it
            row["subnet_id"] = tx_id
        row["fee_burned"] = self._burned(kind, utxos, row)
        for item in utxos:
            item.update(block_number=row["block_number"], block_timestamp=row["block_timestamp"], transaction_id=tx_id)
        return row, utxos

    def _burned(self, kind: str, utxos: list[dict], row: dict) -> int | None:
        """AVAX consumed and not produced or put into an L1 validator's balance (null where AVAX is not known)."""
        avax = ids.AVAX_ASSET.get(self.network_id)
        if avax is None:
            return None
        spent = sum(u["amount"] for u in utxos if u["direction"] == "consumed" and u["asset_id"] == avax)
        made = sum(u["amount"] for u in utxos if u["direction"] == "produced" and u["asset_id"] == avax)
        burned = spent - made - (row["l1_validator_balance"] or 0)
        if burned < 0:
            raise BadField("outputs", f"produce {-burned} nAVAX more than the {kind}'s inputs hold")
        return burned

    def _utxos(self, tx_id: str, kind: str, unsigned: dict) -> list[dict]:
        source = unsigned.get("sourceChain", ids.P_CHAIN)
        consumed = [_consumed(i, ids.P_CHAIN) for i in unsigned.get("inputs") or []]
        consumed += [_consumed(i, source) for i in unsigned.get("importedInputs") or []]
        outputs = unsigned.get("outputs") or []
        produced = [_produced(tx_id, n, o, ids.P_CHAIN) for n, o in enumerate(outputs)]
        destination = unsigned.get("destinationChain", ids.P_CHAIN)
        later = [(o, destination, False) for o in unsigned.get("exportedOutputs") or []]
        later += [(o, ids.P_CHAIN, True) for o in unsigned.get("stake") or []]
        produced += [_produced(tx_id, len(outputs) + n, o, chain, staked) for n, (o, chain, staked) in enumerate(later)]
        return consumed + produced


def transactions_of(block: dict) -> list[dict]:
    """A block's transactions in the order they apply: a Banff proposal block's decision transactions (`txs`)
    come before its proposal transaction (`tx`); a standard or atomic block has only one of the two."""
    return [*(block.get("txs") or []), *([block["tx"]] if block.get("tx") else [])]


def _text(item: dict, name: str) -> str:
    value = item.get(name)
    if not isinstance(value, str) or not value:
        raise BadField(name, "is missing" if value is None else f"is not text: {value!r}")
    return value


def _owner_addresses(owner: dict | None) -> str | None:
    if not owner:
        return None
    return json.dumps(sorted(a.split("-", 1)[-1] for a in owner.get("addresses", [])), separators=(",", ":"))


def _amount_of(inner: dict) -> tuple[int, int | None, dict]:
    """(amount, stakeable locktime, the secp256k1 part) of an input or output, which a stakeable lock wraps."""
    key = "input" if "input" in inner else "output"
    if key in inner and isinstance(inner[key], dict) and "locktime" in inner and "amount" not in inner:
        nested = inner[key]
        return _integer(nested.get("amount"), "amount"), _integer(inner["locktime"], "locktime"), nested
    return _integer(inner.get("amount"), "amount"), None, inner


def _consumed(item: dict, created_on: str) -> dict:
    amount, stakeable, _ = _amount_of(item["input"])
    tx, index = _text(item, "txID"), _integer(item.get("outputIndex"), "outputIndex")
    return {"direction": "consumed", "utxo_id": ids.utxo_id_of(tx, index), "utxo_transaction_id": tx,
            "output_index": index, "asset_id": _text(item, "assetID"), "amount": amount, "addresses": None,
            "locktime": None, "stakeable_locktime": stakeable, "threshold": None, "staked": False, "utxo_type": None,
            "reward_type": None, "created_on_blockchain_id": created_on, "consumed_on_blockchain_id": ids.P_CHAIN}


def _produced(tx_id: str, index: int, item: dict, consumed_on: str, staked: bool = False) -> dict:
    amount, stakeable, owners = _amount_of(item["output"])
    return {"direction": "produced", "utxo_id": ids.utxo_id_of(tx_id, index), "utxo_transaction_id": tx_id,
            "output_index": index, "asset_id": _text(item, "assetID"), "amount": amount,
            "addresses": _owner_addresses(owners), "locktime": _integer(owners.get("locktime", 0), "locktime"),
            "stakeable_locktime": stakeable, "threshold": _integer(owners.get("threshold", 0), "threshold"),
            "staked": staked, "utxo_type": "STAKE" if staked else "TRANSFER", "reward_type": None,
            "created_on_blockchain_id": ids.P_CHAIN, "consumed_on_blockchain_id": consumed_on}


def _node_id(value: Any) -> str | None:
    """NodeID-… as avalanchego prints it; the newer transactions hold the node id as hex bytes."""
    if not isinstance(value, str):
        return None
    if value.startswith("0x"):
        return ids.node_id(bytes.fromhex(value[2:]))
    return value


def _staking(unsigned: dict, network_id: int) -> dict:
    validator = unsigned.get("validator") or {}
    stake = unsigned.get("stake")
    avax = ids.AVAX_ASSET.get(network_id)
    staked = sum(_amount_of(o["output"])[0] for o in stake if o.get("assetID") == avax) if stake else None
    owner = unsigned.get("rewardsOwner") or unsigned.get("validationRewardsOwner")
    shares = unsigned.get("shares", unsigned.get("delegationShares"))
    return {"node_id": _node_id(validator.get("nodeID") or unsigned.get("nodeID")),
            "subnet_id": unsigned.get("subnetID") or validator.get("subnetID"), "amount_staked": staked,
            "start_timestamp": validator.get("start"), "end_timestamp": validator.get("end"),
            "reward_addresses": _owner_addresses(owner),
            "delegation_fee": None if shares is None else f"{Decimal(_integer(shares, 'shares')) / 10_000:.4f}"}


def _weight(unsigned: dict) -> int | None:
    """The staker's weight, as the transaction states it (`validator.weight`: the stake on the primary network)."""
    weight = (unsigned.get("validator") or {}).get("weight")
    if weight is None:
        return None
    if not 0 <= (weight := _integer(weight, "validator.weight")) < 2**64:
        raise BadField("validator.weight", f"is not a uint64: {weight}")
    return weight


def _l1(unsigned: dict) -> dict:
    validators = unsigned.get("validators")
    balance = (sum(_integer(v.get("balance"), "balance") for v in validators) if validators
               else unsigned.get("balance"))
    shown = [{"nodeId": _node_id(v.get("nodeID")), "weight": v.get("weight"), "balanceChange": v.get("balance")}
             for v in validators] if validators else None
    return {"l1_validator_balance": None if balance is None else _integer(balance, "balance"),
            "l1_validation_id": unsigned.get("validationID"),
            "l1_validators": json.dumps(shown, sort_keys=True, separators=(",", ":")) if shown else None}


def _atomic(kind: str, unsigned: dict) -> dict:
    if kind == "ImportTx":
        return {"source_blockchain_id": unsigned.get("sourceChain"), "destination_blockchain_id": ids.P_CHAIN}
    if kind == "ExportTx":
        return {"source_blockchain_id": ids.P_CHAIN, "destination_blockchain_id": unsigned.get("destinationChain")}
    return {"source_blockchain_id": None, "destination_blockchain_id": None}


# --- a day --------------------------------------------------------------------------------------

CHUNK_BLOCKS = 100


def day_chunks(client: PlatformClient, partition: str, network_id: int,
               unknown: dict[str, int]) -> Iterator[dict[str, pa.RecordBatch]]:
    """The day's blocks, transactions and UTXOs, a chunk of heights at a time (both encodings, concurrently)."""
    heights = day_heights(client, partition)
    with ThreadPoolExecutor(max_workers=client.settings.concurrency, thread_name_prefix="p-chain") as pool:
        for chunk in heights.chunks(CHUNK_BLOCKS):
            answers = list(pool.map(lambda h: (h, client.block(h, "json"), client.block(h, "hex")), chunk))
            yield _chunk_rows(partition, network_id, answers, unknown)


def _chunk_rows(partition: str, network_id: int, answers: list, unknown: dict[str, int]) -> dict:
    blocks, transactions, utxos = [], [], []
    for height, block, raw in answers:
        rows = NodeRows(partition, height, network_id)
        if not isinstance(block, dict):
            raise rows.fail(P_CHAIN_BLOCKS, "block", "(json encoding) is not an object")
        block_row = rows.block(block, raw)
        blocks.append(block_row)
        for signed in transactions_of(block):
            transaction, its_utxos = rows.transaction(block_row, signed)
            if transaction["tx_type"] not in KNOWN_TYPES:
                unknown[transaction["tx_type"]] = unknown.get(transaction["tx_type"], 0) + 1
            transactions.append(transaction)
            utxos += its_utxos
    return {P_CHAIN_BLOCKS.name: _batch(P_CHAIN_BLOCKS, blocks),
            P_CHAIN_TRANSACTIONS.name: _batch(P_CHAIN_TRANSACTIONS, transactions),
            P_CHAIN_UTXOS.name: _batch(P_CHAIN_UTXOS, utxos)}


def _batch(dataset, rows: list[dict]) -> pa.RecordBatch:
    """Rows as the dataset's batch: UInt256 amounts as base-10 text (exact), as every source hands them over."""
    wide = [c.name for c in dataset.columns if c.type is U256]
    for row in rows:
        for name in wide:
            if row[name] is not None:
                row[name] = str(row[name])
    return pa.RecordBatch.from_pylist(rows, schema=dataset.arrow_schema)
