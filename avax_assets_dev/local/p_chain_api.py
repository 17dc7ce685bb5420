"""The fixture P-Chain (local/p_chain_fixtures.py) served two ways, for the fixture server: as the Data API's
primary-network lists (filtered by startTimestamp/endTimestamp or addresses, newest first, paged) and as a
node's platform API (`POST /ext/bc/P`: platform.getHeight, platform.getBlockByHeight in json and hex).

FIXTURES, not a node: the node's JSON is rendered from the Data API items in avalanchego's shapes (the json
tags of vms/platformvm/block and txs); the `hex` encoding is a FAKE block of the right size whose only true
bytes are the codec version and the block type id (what the node source reads of it).
"""

from __future__ import annotations

import re
from decimal import Decimal

from avax_assets.primary import ids

LIST_PATH = re.compile(r"^/v1/networks/(?P<network>[^/]+)/blockchains/p-chain/(?P<kind>blocks|transactions)$")
REWARDS_PATH = re.compile(r"^/v1/networks/(?P<network>[^/]+)/rewards$")
PLATFORM_PATH = "/ext/bc/P"
SECP_FX = "spdxUxVJQbX85MGxMHbKw1sHxMnSqJ3QBzDyDYEP3h6TLuxqQ"
BLOCK_TYPE_IDS = {"BanffProposalBlock": 29, "BanffAbortBlock": 30, "BanffCommitBlock": 31, "BanffStandardBlock": 32}


class PChainFixtures:
    def __init__(self, pages: dict) -> None:
        self.blocks = [b for page in pages.get("/v1/networks/mainnet/blockchains/p-chain/blocks", [])
                       for b in page["blocks"]]
        self.transactions = [t for page in pages.get("/v1/networks/mainnet/blockchains/p-chain/transactions", [])
                             for t in page["transactions"]]
        self.rewards = [r for page in pages.get("/v1/networks/mainnet/rewards", []) for r in page["historicalRewards"]]
        self.by_id = {t["txHash"]: t for t in self.transactions}

    # --- the Data API -------------------------------------------------------------------------

    def get(self, path: str, query: dict) -> tuple[int, dict] | None:
        """The answer to a GET of a P-Chain list, or None when the path is not one."""
        listing = LIST_PATH.match(path)
        if listing:
            items = self.blocks if listing["kind"] == "blocks" else self.transactions
            low, high = int(query.get("startTimestamp", 0)), int(query.get("endTimestamp", 2**63))
            chosen = sorted((i for i in items if low <= i["blockTimestamp"] <= high),
                            key=lambda i: (i["blockTimestamp"], int(i["blockNumber"])), reverse=True)
            return 200, page_of(chosen, listing["kind"], query, {"chainInfo": {"chainName": "p-chain",
                                                                                "network": listing["network"]}})
        if REWARDS_PATH.match(path):
            wanted = set(query.get("addresses", "").split(","))
            chosen = sorted((r for r in self.rewards if wanted & set(r["addresses"])),
                            key=lambda r: r["endTimestamp"], reverse=query.get("sortOrder") != "asc")
            return 200, page_of(chosen, "historicalRewards", query)
        return None

    # --- the platform API ---------------------------------------------------------------------

    def call(self, request: dict) -> dict:
        method, params, number = request.get("method"), request.get("params") or {}, request.get("id")
        if method == "platform.getHeight":
            return {"jsonrpc": "2.0", "id": number, "result": {"height": str(len(self.blocks) - 1)}}
        if method == "platform.getBlockByHeight":
            height = int(params["height"])
            if not 0 <= height < len(self.blocks):
                return {"jsonrpc": "2.0", "id": number, "error": {"code": -32000, "message": "block not found"}}
            block = self.blocks[height]
            encoded = self.block_json(block) if params.get("encoding") == "json" else fake_hex(block)
            return {"jsonrpc": "2.0", "id": number, "result": {"block": encoded, "encoding": params.get("encoding")}}
        return {"jsonrpc": "2.0", "id": number, "error": {"code": -32601, "message": f"no fixture for {method}"}}

    def block_json(self, block: dict) -> dict:
        rendered = {"parentID": block["parentHash"], "height": int(block["blockNumber"]), "id": block["blockHash"],
                    "time": block["blockTimestamp"]}
        if block["blockType"] in ("BanffStandardBlock", "BanffProposalBlock"):
            rendered["txs"] = [signed(self.by_id[tx]) for tx in block["transactions"]]
        return rendered


def page_of(items: list[dict], key: str, query: dict, extra: dict | None = None) -> dict:
    offset, size = int(query.get("pageToken") or 0), int(query.get("pageSize") or 10)
    page = {key: items[offset:offset + size], **(extra or {})}
    if offset + size < len(items):
        page["nextPageToken"] = str(offset + size)
    return page


def fake_hex(block: dict) -> str:
    """FAKE: codec version 0, the block's type id, then zeros up to the block's size."""
    size = block["blockSizeBytes"]
    return "0x" + (b"\0\0" + BLOCK_TYPE_IDS[block["blockType"]].to_bytes(4, "big") + b"\0" * (size - 6)).hex()


# --- a transaction in avalanchego's JSON -----------------------------------------------------------

def owners(addresses: list[str]) -> dict:
    return {"addresses": [f"P-{a}" for a in addresses], "locktime": 0, "threshold": 1}


def _input(utxo: dict) -> dict:
    return {"txID": utxo["txHash"], "outputIndex": utxo["outputIndex"], "assetID": utxo["assetId"], "fxID": SECP_FX,
            "input": {"amount": int(utxo["amount"]), "signatureIndices": [0]}}


def _output(utxo: dict) -> dict:
    return {"assetID": utxo["assetId"], "fxID": SECP_FX,
            "output": {**owners(utxo["addresses"]), "amount": int(utxo["amount"]),
                       "locktime": utxo.get("platformLocktime", 0), "threshold": utxo.get("threshold", 1)}}


def base(item: dict) -> dict:
    return {"networkID": 1, "blockchainID": ids.P_CHAIN, "outputs": [_output(u) for u in _own_outputs(item)],
            "inputs": [_input(u) for u in item["consumedUtxos"] if u["createdOnChainId"] == ids.P_CHAIN],
            "memo": item["memo"]}


def _own_outputs(item: dict) -> list[dict]:
    """The transaction's outputs: what it emits on the P-Chain itself, not staked, and not the balance an L1
    validator's removal refunds (the executor makes that UTXO; it is not in the transaction)."""
    own = sorted((u for u in item["emittedUtxos"] if u["txHash"] == item["txHash"] and not u["staked"]
                  and u["consumedOnChainId"] == ids.P_CHAIN), key=lambda u: u["outputIndex"])
    refunds = any(d.get("balanceChange", 0) < 0 for d in item.get("l1ValidatorDetails") or [])
    return own[:-1] if refunds else own


def _validator(item: dict, weight: int) -> dict:
    # a node's weight is a uint64 (avalanchego); the fixtures' one stake beyond it is there for the amounts' columns
    return {"nodeID": item["nodeId"], "start": item["startTimestamp"], "end": item["endTimestamp"],
            "weight": min(weight, 2**64 - 1)}


def _staked(item: dict) -> tuple[list[dict], int]:
    stake = [u for u in item["emittedUtxos"] if u["txHash"] == item["txHash"] and u["staked"]]
    return [_output(u) for u in stake], sum(int(u["amount"]) for u in stake)


def _node_bytes(node_id: str) -> str:
    return "0x" + ids.uncb58(node_id.removeprefix("NodeID-"), 20).hex()


def specific(item: dict) -> dict:
    """The fields of the transaction's type, beyond BaseTx's."""
    kind = item["txType"]
    if kind in ("AddPermissionlessValidatorTx", "AddPermissionlessDelegatorTx"):
        stake, weight = _staked(item)
        fields = {"validator": _validator(item, weight), "subnetID": item["subnetId"], "stake": stake}
        if kind == "AddPermissionlessDelegatorTx":
            return fields | {"rewardsOwner": owners(item["rewardAddresses"])}
        bls = item["blsCredentials"]
        return fields | {"signer": {"publicKey": bls["publicKey"], "proofOfPossession": bls["proofOfPossession"]},
                         "validationRewardsOwner": owners(item["rewardAddresses"]),
                         "delegationRewardsOwner": owners(item["rewardAddresses"]),
                         "shares": int(Decimal(item["delegationFeePercent"]) * 10_000)}
    if kind == "ImportTx":
        return {"sourceChain": item["sourceChain"],
                "importedInputs": [_input(u) for u in item["consumedUtxos"] if u["createdOnChainId"] != ids.P_CHAIN]}
    if kind == "ExportTx":
        return {"destinationChain": item["destinationChain"],
                "exportedOutputs": [_output(u) for u in item["emittedUtxos"] if u["consumedOnChainId"] != ids.P_CHAIN]}
    if kind == "CreateSubnetTx":
        return {"owner": owners(item["subnetOwnershipInfo"]["addresses"])}
    if kind == "CreateChainTx":
        info = item["blockchainInfo"]
        return {"subnetID": item["subnetId"], "chainName": info["chainName"], "vmID": info["vmId"], "fxIDs": [],
                "genesisData": "0x" + info["genesisData"].encode().hex(),
                "subnetAuthorization": {"signatureIndices": [0]}}
    return l1_specific(kind, item)


def l1_specific(kind: str, item: dict) -> dict:
    details = (item.get("l1ValidatorDetails") or [{}])[0]
    message = "0x" + b"avax-assets fixture: a Warp message".hex()
    if kind == "ConvertSubnetToL1Tx":
        manager = item["l1ValidatorManagerDetails"]
        return {"subnetID": item["subnetId"], "chainID": manager["blockchainId"], "address": manager["contractAddress"],
                "validators": [{"nodeID": _node_bytes(d["nodeId"]), "weight": d["weight"],
                                "balance": d["balanceChange"], "signer": {}, "remainingBalanceOwner": {},
                                "deactivationOwner": {}} for d in item["l1ValidatorDetails"]],
                "subnetAuthorization": {"signatureIndices": [0]}}
    if kind == "RegisterL1ValidatorTx":
        return {"balance": details["balanceChange"], "proofOfPossession": [0] * 96, "message": message}
    if kind == "IncreaseL1ValidatorBalanceTx":
        return {"validationID": details["validationId"], "balance": details["balanceChange"]}
    if kind == "SetL1ValidatorWeightTx":
        return {"message": message}
    if kind == "DisableL1ValidatorTx":
        return {"validationID": details["validationId"], "disableAuthorization": {"signatureIndices": [0]}}
    if kind == "BaseTx":
        return {}
    return {"aFieldNoTypeHas": True}  # UNKNOWN: a type the sources do not name


def signed(item: dict) -> dict:
    if item["txType"] == "RewardValidatorTx":
        unsigned = {"txID": item["stakingTxHash"]}
    else:
        unsigned = base(item) | specific(item)
    return {"unsignedTx": unsigned, "credentials": [{"signatures": ["0x" + "00" * 65]}], "id": item["txHash"]}
