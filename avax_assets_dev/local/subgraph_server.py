"""A local subgraph endpoint: the query API The Graph generates from a subgraph's entity schema, with
The Graph's semantics where the project relies on them (`first` ≤ 1000, `skip`, `orderBy` /
`orderDirection`, `where` with `_gt/_gte/_lt/_lte/_in/_not`, nested `field_` filters, `and`/`or`,
`_meta` with the indexed block and `hasIndexingErrors`), executed by graphql-core over in-memory
entities. Used by the tests and the offline demo: `SubgraphServer` serves the entities and indexing state
its caller sets; `NodeIndexingSubgraph` indexes them from a node's Liquidity Book Swap events (the devchain's
LB pair), so its swaps are the chain's own, in the subgraph's units.

    python -m avax_assets_dev.local.subgraph_server --rpc-url http://127.0.0.1:8545 --port 8450
"""

from __future__ import annotations

import argparse
import json
import threading
from decimal import Decimal
from pathlib import Path

import eth_abi
from eth_abi.exceptions import DecodingError
from eth_hash.auto import keccak
from graphql import (GraphQLArgument, GraphQLBoolean, GraphQLEnumType, GraphQLField, GraphQLID, GraphQLInputField,
                     GraphQLInputObjectType, GraphQLInt, GraphQLList, GraphQLNonNull, GraphQLObjectType,
                     GraphQLScalarType, GraphQLSchema, GraphQLString, build_ast_schema, get_named_type, graphql_sync,
                     is_list_type, is_object_type, parse)

from avax_assets.chain.rpc import Call, JsonRpcClient
from avax_assets.chain.settings import RpcSettings
from avax_assets_dev.local.http import BackgroundServer, JsonHandler

SPEC = Path(__file__).parent / "subgraphs" / "traderjoe-joe-subgraph-v2.schema.graphql"
MAX_FIRST = 1000
MAX_SKIP = 5000
ENTITY_DIRECTIVES = """
directive @entity(immutable: Boolean) on OBJECT
directive @derivedFrom(field: String!) on FIELD_DEFINITION
scalar BigInt
scalar BigDecimal
scalar Bytes
scalar Int8
scalar Timestamp
"""
NUMERIC = {"Int": int, "BigInt": int, "Int8": int, "BigDecimal": Decimal, "Timestamp": int}


# --- the query schema The Graph generates from an entity schema -----------------------------------

def plural(name: str) -> str:
    base = name[0].lower() + name[1:]
    return base + ("es" if base.endswith(("s", "sh", "ch", "x")) else "s")


def api_schema(entity_sdl: str) -> GraphQLSchema:
    entities = build_ast_schema(parse(ENTITY_DIRECTIVES + entity_sdl))
    types = {name: t for name, t in entities.type_map.items() if is_object_type(t) and not name.startswith("__")}
    scalars = {name: GraphQLScalarType(name, serialize=str) for name in ("BigInt", "BigDecimal", "Bytes", "Int8",
                                                                         "Timestamp")}
    builtin = {"ID": GraphQLID, "String": GraphQLString, "Int": GraphQLInt, "Boolean": GraphQLBoolean}
    direction = GraphQLEnumType("OrderDirection", {"asc": "asc", "desc": "desc"})
    block_height = GraphQLInputObjectType("Block_height", {"number": GraphQLInputField(GraphQLInt),
                                                           "hash": GraphQLInputField(scalars["Bytes"])})
    objects: dict[str, GraphQLObjectType] = {}
    filters: dict[str, GraphQLInputObjectType] = {}
    order_by: dict[str, GraphQLEnumType] = {}

    def scalar(name: str):
        return builtin.get(name) or scalars[name]

    def filter_fields(type_name: str) -> dict:
        fields: dict = {}
        for field_name, field in types[type_name].fields.items():
            target = get_named_type(field.type).name
            if target in types:  # a reference: compared by id, or filtered through with `field_`
                fields[f"{field_name}_"] = GraphQLInputField(filters[target])
                if is_list_type(getattr(field.type, "of_type", field.type)):
                    continue
                target = "String"
            kind = scalar(target)
            for suffix in ("", "_not", "_gt", "_lt", "_gte", "_lte"):
                fields[field_name + suffix] = GraphQLInputField(kind)
            for suffix in ("_in", "_not_in"):
                fields[field_name + suffix] = GraphQLInputField(GraphQLList(GraphQLNonNull(kind)))
        fields["and"] = GraphQLInputField(GraphQLList(filters[type_name]))
        fields["or"] = GraphQLInputField(GraphQLList(filters[type_name]))
        return fields

    def list_args(type_name: str) -> dict:
        return {"skip": GraphQLArgument(GraphQLInt, default_value=0),
                "first": GraphQLArgument(GraphQLInt, default_value=100),
                "orderBy": GraphQLArgument(order_by[type_name]),
                "orderDirection": GraphQLArgument(direction),
                "where": GraphQLArgument(filters[type_name])}

    def object_fields(type_name: str) -> dict:
        fields = {}
        for field_name, field in types[type_name].fields.items():
            target = get_named_type(field.type).name
            inner = objects[target] if target in types else scalar(target)
            wrapped = _rewrap(field.type, inner)
            args = list_args(target) if target in types and is_list_type(_unwrap_non_null(field.type)) else {}
            fields[field_name] = GraphQLField(wrapped, args=args)
        return fields

    for name in types:
        filters[name] = GraphQLInputObjectType(f"{name}_filter", lambda name=name: filter_fields(name))
        order_by[name] = GraphQLEnumType(f"{name}_orderBy", {f: f for f in types[name].fields})
        objects[name] = GraphQLObjectType(name, lambda name=name: object_fields(name))
    block = GraphQLObjectType("_Block_", {"number": GraphQLField(GraphQLNonNull(GraphQLInt)),
                                          "hash": GraphQLField(scalars["Bytes"]),
                                          "timestamp": GraphQLField(GraphQLInt)})
    meta = GraphQLObjectType("_Meta_", {"block": GraphQLField(GraphQLNonNull(block)),
                                        "deployment": GraphQLField(GraphQLNonNull(GraphQLString)),
                                        "hasIndexingErrors": GraphQLField(GraphQLNonNull(GraphQLBoolean))})
    query = {"_meta": GraphQLField(meta, args={"block": GraphQLArgument(block_height)})}
    for name in types:
        lower = name[0].lower() + name[1:]
        query[lower] = GraphQLField(objects[name], args={"id": GraphQLArgument(GraphQLNonNull(GraphQLID)),
                                                         "block": GraphQLArgument(block_height)})
        query[plural(name)] = GraphQLField(GraphQLNonNull(GraphQLList(GraphQLNonNull(objects[name]))),
                                           args={**list_args(name), "block": GraphQLArgument(block_height)})
    return GraphQLSchema(GraphQLObjectType("Query", query))


def _unwrap_non_null(kind):
    return kind.of_type if isinstance(kind, GraphQLNonNull) else kind


def _rewrap(source, inner):
    if isinstance(source, GraphQLNonNull):
        return GraphQLNonNull(_rewrap(source.of_type, inner))
    if isinstance(source, GraphQLList):
        return GraphQLList(_rewrap(source.of_type, inner))
    return inner


# --- execution over in-memory entities --------------------------------------------------------------

class EntityStore:
    """Entities by type and id; a reference field holds the referenced entity's id."""

    def __init__(self, schema: GraphQLSchema, entities: dict[str, dict[str, dict]]) -> None:
        self.schema, self.entities = schema, entities
        for type_name in entities:
            for field_name, field in schema.type_map[type_name].fields.items():
                if get_named_type(field.type).name in entities and not is_list_type(_unwrap_non_null(field.type)):
                    field.resolve = self._reference(field_name, get_named_type(field.type).name)
        query = schema.query_type.fields
        for type_name in schema.type_map:
            if f"{type_name}_filter" in schema.type_map and plural(type_name) in query:
                query[plural(type_name)].resolve = self._collection(type_name)

    def _reference(self, field_name: str, target: str):
        return lambda parent, info: self.entities[target].get(parent[field_name])

    def _collection(self, type_name: str):
        def resolve(root, info, first=100, skip=0, orderBy=None, orderDirection="asc", where=None, block=None):
            if not 0 <= first <= MAX_FIRST:
                raise ValueError(f"The `first` argument must be between 0 and {MAX_FIRST}, but is {first}")
            if not 0 <= skip <= MAX_SKIP:
                raise ValueError(f"The `skip` argument must be between 0 and {MAX_SKIP}, but is {skip}")
            rows = [r for r in self.entities.get(type_name, {}).values() if self.matches(type_name, r, where or {})]
            key = orderBy or "id"
            rows.sort(key=lambda r: self._comparable(type_name, key, r[key]), reverse=orderDirection == "desc")
            return rows[skip:skip + first]

        return resolve

    def _comparable(self, type_name: str, field_name: str, value):
        kind = get_named_type(self.schema.type_map[type_name].fields[field_name].type).name
        return NUMERIC[kind](value) if kind in NUMERIC else value

    def matches(self, type_name: str, row: dict, where: dict) -> bool:
        for key, wanted in where.items():
            if key == "and" and not all(self.matches(type_name, row, w) for w in wanted):
                return False
            if key == "or" and not any(self.matches(type_name, row, w) for w in wanted):
                return False
            if key in ("and", "or"):
                continue
            if key.endswith("_") and key[:-1] in row:  # nested filter through a reference
                target = get_named_type(self.schema.type_map[type_name].fields[key[:-1]].type).name
                if not self.matches(target, self.entities[target].get(row[key[:-1]], {}), wanted):
                    return False
                continue
            field_name, _, op = key.partition("_") if key.split("_")[0] in row else (key, "", "")
            if not self._compare(type_name, field_name, row.get(field_name), op, wanted):
                return False
        return True

    def _compare(self, type_name: str, field_name: str, value, op: str, wanted) -> bool:
        if value is None:
            return False
        have = self._comparable(type_name, field_name, value)
        convert = lambda v: self._comparable(type_name, field_name, v)  # noqa: E731
        if op in ("in", "not_in"):
            return (have in {convert(v) for v in wanted}) == (op == "in")
        want = convert(wanted)
        return {"": have == want, "not": have != want, "gt": have > want, "lt": have < want,
                "gte": have >= want, "lte": have <= want}[op]


class SubgraphServer(BackgroundServer):
    """POST /api/subgraphs/id/<id> → GraphQL over the store; `indexed_block` and `has_indexing_errors`
    are what `_meta` reports. With `api_key`, a request without `Authorization: Bearer <key>` is refused."""

    def __init__(self, entities: dict[str, dict[str, dict]], subgraph_id: str = "local-traderjoe-v2",
                 indexed_block: int = 0, api_key: str | None = None, port: int = 0, sdl: Path = SPEC) -> None:
        self.schema = api_schema(sdl.read_text())
        self.store = EntityStore(self.schema, entities)
        self.subgraph_id, self.api_key = subgraph_id, api_key
        self.indexed_block, self.has_indexing_errors = indexed_block, False
        self.queries: list[dict] = []
        server = self

        class Handler(JsonHandler):
            def do_POST(self) -> None:
                if self.path != f"/api/subgraphs/id/{server.subgraph_id}":
                    return self.reply(404, {"errors": [{"message": f"subgraph not found: {self.path}"}]})
                if server.api_key and self.headers.get("authorization") != f"Bearer {server.api_key}":
                    return self.reply(401, {"errors": [{"message": "auth error: missing or invalid API key"}]})
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
                server.queries.append(body)
                server.refresh()
                self.reply(200, server.execute(body.get("query", ""), body.get("variables") or {}))

        super().__init__(Handler, port)
        self.url = f"{self.base_url}/api/subgraphs/id/{subgraph_id}"

    def refresh(self) -> None:
        """Called before each query; a server that follows a node indexes its new blocks here."""

    def execute(self, query: str, variables: dict) -> dict:
        meta = {"block": {"number": self.indexed_block}, "deployment": self.subgraph_id,
                "hasIndexingErrors": self.has_indexing_errors}
        result = graphql_sync(self.schema, query, root_value={"_meta": meta}, variable_values=variables)
        body: dict = {"data": result.data}
        if result.errors:
            body["errors"] = [{"message": e.message} for e in result.errors]
        return body


# --- the entities, indexed from the node's Liquidity Book Swap events -------------------------------

LB_SWAP_EVENT = "Swap(address,address,uint24,bytes32,bytes32,uint24,bytes32,bytes32)"
LB_SWAP_TOPIC = "0x" + keccak(LB_SWAP_EVENT.encode()).hex()
LB_SWAP_DATA = ["uint24", "bytes32", "bytes32", "uint24", "bytes32", "bytes32"]
LOW_128 = 2**128 - 1


def units(amount: int, decimals: int) -> str:
    """Base units in token units, exact, as The Graph writes a BigDecimal: (1500000, 6) → "1.5"."""
    whole, fraction = divmod(amount, 10**decimals)
    digits = f"{fraction:0{decimals}d}".rstrip("0") if decimals else ""
    return f"{whole}.{digits}" if digits else str(whole)


def unpacked(word: bytes) -> tuple[int, int]:
    """Liquidity Book's packed amounts: token X in the low 128 bits, token Y in the high 128."""
    value = int.from_bytes(word, "big")
    return value & LOW_128, value >> 128


def _text(answer: str) -> str:
    raw = bytes.fromhex(answer[2:])
    try:
        return eth_abi.decode(["string"], raw)[0]
    except (DecodingError, UnicodeDecodeError):  # a bytes32 name (MKR's shape), as the subgraph falls back to
        return raw[:32].rstrip(b"\0").decode("utf-8", errors="replace") or "unknown"


class LiquidityBookIndex:
    """What the Trader Joe v2 subgraph's mappings keep for swaps (Token, LBPair, Transaction, Swap), built
    from the node: each Liquidity Book `Swap` event becomes a Swap of its pair, amounts in token units.
    Unlike the real subgraph, which follows the pairs its LBFactory creates, every emitter of the event is
    a pair here (the devchain's DevLBPair has no factory), as the events family's `lb_swap` decodes them.
    The devchain has no price source, so amountUSD and feesUSD are 0."""

    def __init__(self) -> None:
        self.entities: dict[str, dict[str, dict]] = {"Token": {}, "LBPair": {}, "Transaction": {}, "Swap": {}}
        self.swaps_in: dict[str, int] = {}  # per transaction: its swaps so far (the swap id's index)

    def index(self, rpc: JsonRpcClient, first: int, last: int) -> None:
        """Add the swaps of blocks first..last."""
        logs = rpc.call("eth_getLogs", [{"fromBlock": hex(first), "toBlock": hex(last), "topics": [LB_SWAP_TOPIC]}])
        if not logs:
            return
        blocks = sorted({int(log["blockNumber"], 16) for log in logs})
        headers = rpc.batch([Call("eth_getBlockByNumber", [hex(n), False]) for n in blocks])
        stamps = {n: int(h["timestamp"], 16) for n, h in zip(blocks, headers, strict=True)}
        hashes = sorted({log["transactionHash"].lower() for log in logs})
        senders = rpc.batch([Call("eth_getTransactionByHash", [h]) for h in hashes])
        origins = {h: tx["from"].lower() for h, tx in zip(hashes, senders, strict=True)}
        for log in sorted(logs, key=lambda log: (int(log["blockNumber"], 16), int(log["logIndex"], 16))):
            block = int(log["blockNumber"], 16)
            self._swap(rpc, log, block, stamps[block], origins[log["transactionHash"].lower()])

    def _swap(self, rpc: JsonRpcClient, log: dict, block: int, timestamp: int, origin: str) -> None:
        tx_hash = log["transactionHash"].lower()
        pair = self._pair(rpc, log["address"].lower(), block)
        x, y = (self.entities["Token"][pair[side]] for side in ("tokenX", "tokenY"))
        decimals_x, decimals_y = int(x["decimals"]), int(y["decimals"])
        active_id, amounts_in, amounts_out, _, fees, _ = eth_abi.decode(LB_SWAP_DATA, bytes.fromhex(log["data"][2:]))
        (x_in, y_in), (x_out, y_out), (fee_x, fee_y) = unpacked(amounts_in), unpacked(amounts_out), unpacked(fees)
        self.entities["Transaction"].setdefault(tx_hash, {"id": tx_hash, "blockNumber": block, "timestamp": timestamp})
        swap_id = f"{tx_hash}#{self.swaps_in.get(tx_hash, 0)}"
        self.swaps_in[tx_hash] = self.swaps_in.get(tx_hash, 0) + 1
        self.entities["Swap"][swap_id] = {
            "id": swap_id, "transaction": tx_hash, "timestamp": timestamp, "lbPair": pair["id"],
            "sender": "0x" + log["topics"][1][-40:].lower(), "recipient": "0x" + log["topics"][2][-40:].lower(),
            "origin": origin, "activeId": str(active_id),
            "amountXIn": units(x_in, decimals_x), "amountYIn": units(y_in, decimals_y),
            "amountXOut": units(x_out, decimals_x), "amountYOut": units(y_out, decimals_y),
            "amountUSD": "0", "feesTokenX": units(fee_x, decimals_x), "feesTokenY": units(fee_y, decimals_y),
            "feesUSD": "0", "logIndex": str(int(log["logIndex"], 16)),
        }

    def _pair(self, rpc: JsonRpcClient, address: str, block: int) -> dict:
        if address not in self.entities["LBPair"]:
            calls = [Call("eth_call", [{"to": address, "data": _selector(f)}, hex(block)])
                     for f in ("getTokenX()", "getTokenY()")]
            token_x, token_y = ("0x" + word[-40:].lower() for word in rpc.batch(calls))
            x, y = self._token(rpc, token_x, block), self._token(rpc, token_y, block)
            self.entities["LBPair"][address] = {"id": address, "name": f"{x['symbol']}-{y['symbol']}",
                                                "tokenX": token_x, "tokenY": token_y}
        return self.entities["LBPair"][address]

    def _token(self, rpc: JsonRpcClient, address: str, block: int) -> dict:
        if address not in self.entities["Token"]:
            calls = [Call("eth_call", [{"to": address, "data": _selector(f)}, hex(block)])
                     for f in ("symbol()", "name()", "decimals()")]
            symbol, name, decimals = rpc.batch(calls)
            self.entities["Token"][address] = {"id": address, "symbol": _text(symbol), "name": _text(name),
                                               "decimals": str(int(decimals, 16))}
        return self.entities["Token"][address]


def _selector(signature: str) -> str:
    return "0x" + keccak(signature.encode())[:4].hex()


class NodeIndexingSubgraph(SubgraphServer):
    """The subgraph as an indexer would serve it: the node's Liquidity Book swaps (LiquidityBookIndex), indexed
    up to its latest block, or up to `up_to` when set; caught up before each query (so it can start before the
    devchain is generated). A node that no longer holds the indexed block (a new chain) is indexed afresh."""

    def __init__(self, rpc_url: str, port: int = 0, api_key: str | None = None, up_to: int | None = None) -> None:
        super().__init__({"Swap": {}}, port=port, indexed_block=-1, api_key=api_key)
        self.rpc_url, self.up_to = rpc_url, up_to
        self.indexer, self._indexed_hash = LiquidityBookIndex(), None
        self._lock = threading.Lock()

    def refresh(self) -> None:
        with self._lock, JsonRpcClient(RpcSettings(url=self.rpc_url)) as rpc:
            head = int(rpc.call("eth_blockNumber", []), 16)
            if self.indexed_block >= 0 and self._hash(rpc, self.indexed_block) != self._indexed_hash:
                self.indexer, self.indexed_block = LiquidityBookIndex(), -1
            target = head if self.up_to is None else min(head, self.up_to)
            if target <= self.indexed_block:
                return
            self.indexer.index(rpc, self.indexed_block + 1, target)
            self.store = EntityStore(self.schema, {kind: dict(rows) for kind, rows in self.indexer.entities.items()})
            self.indexed_block, self._indexed_hash = target, self._hash(rpc, target)

    @staticmethod
    def _hash(rpc: JsonRpcClient, block: int) -> str | None:
        header = rpc.call("eth_getBlockByNumber", [hex(block), False], allow_null=True)
        return header and header["hash"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rpc-url", default="http://127.0.0.1:8545")
    parser.add_argument("--port", type=int, default=8450)
    args = parser.parse_args()
    with NodeIndexingSubgraph(args.rpc_url, args.port) as server:
        print(f"serving the subgraph of the node at {args.rpc_url} on {server.url}", flush=True)
        server.wait()


if __name__ == "__main__":
    main()
