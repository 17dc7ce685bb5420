"""A local subgraph endpoint: the query API The Graph generates from a subgraph's entity schema, with
The Graph's semantics where the project relies on them (`first` ≤ 1000, `skip`, `orderBy` /
`orderDirection`, `where` with `_gt/_gte/_lt/_lte/_in/_not`, nested `field_` filters, `and`/`or`,
`_meta` with the indexed block and `hasIndexingErrors`), executed by graphql-core over in-memory
entities. Used by the tests and the offline demo; the indexing state is set by the caller.

    python -m avax_assets_dev.local.subgraph_server --rpc-url http://127.0.0.1:8545 --port 8450
"""

from __future__ import annotations

import argparse
import json
import threading
import random
from decimal import Decimal
from pathlib import Path

from eth_hash.auto import keccak
from graphql import (GraphQLArgument, GraphQLBoolean, GraphQLEnumType, GraphQLField, GraphQLID, GraphQLInputField,
                     GraphQLInputObjectType, GraphQLInt, GraphQLList, GraphQLNonNull, GraphQLObjectType,
                     GraphQLScalarType, GraphQLSchema, GraphQLString, build_ast_schema, get_named_type, graphql_sync,
                     is_list_type, is_object_type, parse)

from avax_assets_dev.local.http import BackgroundServer, JsonHandler

SPEC = Path(__file__).parent / "subgraphs" / "traderjoe-joe-subgraph-v2.schema.graphql"
MAX_FIRST = 1000
SWAPS_PER_BLOCK = 4
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


# --- deterministic Liquidity Book swaps on the devchain's blocks -------------------------------------

TOKENS = (("WAVAX", 18), ("USDC", 6), ("JOE", 18))


def _hex(seed: str, size: int) -> str:
    return "0x" + keccak(seed.encode()).hex()[: size * 2]


def trader_joe_swaps(block_timestamps: dict[int, int], swaps_per_block: dict[int, int], seed: int = 7) -> dict:
    """Entities for swaps in the given blocks: tokens, pairs, transactions (up to 3 swaps each) and swaps
    with exact decimal amounts, some beyond float precision."""
    rng = random.Random(seed)
    tokens = {_hex(f"token{symbol}", 20): {"id": _hex(f"token{symbol}", 20), "symbol": symbol, "name": symbol,
                                           "decimals": str(decimals)} for symbol, decimals in TOKENS}
    ids = list(tokens)
    pairs = {}
    for x, y in ((0, 1), (2, 0)):
        pair_id = _hex(f"pair{x}{y}", 20)
        pairs[pair_id] = {"id": pair_id, "name": f"{tokens[ids[x]]['symbol']}-{tokens[ids[y]]['symbol']}",
                          "tokenX": ids[x], "tokenY": ids[y]}
    transactions, swaps = {}, {}
    for block, count in sorted(swaps_per_block.items()):
        made = 0
        while made < count:
            tx_hash = _hex(f"tx{seed}-{block}-{made}", 32)
            transactions[tx_hash] = {"id": tx_hash, "blockNumber": block, "timestamp": block_timestamps[block]}
            for index in range(min(rng.randint(1, 3), count - made)):
                pair = rng.choice(list(pairs))
                x_in = rng.random() < 0.5
                amount_in = Decimal(rng.randint(1, 10**24)) / Decimal(10**18)
                amount_out = Decimal(rng.randint(1, 10**12)) / Decimal(10**6)
                trader = _hex(f"trader{rng.randint(0, 40)}", 20)
                swap_id = f"{tx_hash}#{index}"
                swaps[swap_id] = {
                    "id": swap_id, "transaction": tx_hash, "timestamp": block_timestamps[block], "lbPair": pair,
                    "sender": _hex("router", 20), "recipient": trader, "origin": trader,
                    "activeId": str(8388608 + rng.randint(-500, 500)),
                    "amountXIn": str(amount_in if x_in else 0), "amountYIn": str(0 if x_in else amount_in),
                    "amountXOut": str(0 if x_in else amount_out), "amountYOut": str(amount_out if x_in else 0),
                    "amountUSD": str(amount_out.quantize(Decimal("0.000001"))),
                    "feesTokenX": str(amount_in / 1000 if x_in else 0),
                    "feesTokenY": str(0 if x_in else amount_in / 1000),
                    "feesUSD": str((amount_out / 1000).quantize(Decimal("0.000001"))),
                    "logIndex": str(index * 3 + 1),
                }
            made += index + 1
    return {"Token": tokens, "LBPair": pairs, "Transaction": transactions, "Swap": swaps}


def node_block_timestamps(rpc_url: str, first: int, last: int) -> dict[int, int]:
    import httpx

    calls = [{"jsonrpc": "2.0", "id": n, "method": "eth_getBlockByNumber", "params": [hex(n), False]}
             for n in range(first, last + 1)]
    replies = httpx.post(rpc_url, json=calls, timeout=60).json()
    return {r["id"]: int(r["result"]["timestamp"], 16) for r in replies}


class NodeIndexingSubgraph(SubgraphServer):
    """The subgraph as an indexer would serve it: swaps in every block the node has, indexed up to its
    latest block, caught up before each query (so it can start before the devchain is generated)."""

    def __init__(self, rpc_url: str, swaps_per_block: int = SWAPS_PER_BLOCK, port: int = 0) -> None:
        super().__init__({"Swap": {}}, port=port, indexed_block=-1)
        self.rpc_url, self.swaps_per_block = rpc_url, swaps_per_block
        self._lock = threading.Lock()

    def refresh(self) -> None:
        import httpx

        with self._lock:
            reply = httpx.post(self.rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber",
                                                   "params": []}, timeout=30).json()
            latest = int(reply["result"], 16)
            if latest == self.indexed_block:
                return
            stamps = node_block_timestamps(self.rpc_url, 0, latest)
            self.store = EntityStore(self.schema, trader_joe_swaps(stamps, {n: self.swaps_per_block for n in stamps}))
            self.indexed_block = latest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rpc-url", default="http://127.0.0.1:8545")
    parser.add_argument("--port", type=int, default=8450)
    parser.add_argument("--swaps-per-block", type=int, default=SWAPS_PER_BLOCK)
    args = parser.parse_args()
    with NodeIndexingSubgraph(args.rpc_url, args.swaps_per_block, args.port) as server:
        print(f"serving the subgraph of the node at {args.rpc_url} on {server.url}", flush=True)
        server.wait()


if __name__ == "__main__":
    main()
