"""A C-Chain JSON-RPC node serving the synthetic chain (avax_assets_dev/local/synthetic_chain.py), for
benchmarks: dev tooling, not the product. One process, one asyncio loop, no framework: a block is made
once into the JSON bytes of its answers and kept while it is likely to be asked for again (the blocks
asked for last), so a full block and its receipts asked for side by side cost one making.

Served: eth_chainId, net_version, web3_clientVersion, eth_blockNumber, eth_getBlockByNumber and
eth_getBlockByHash (headers or full), eth_getBlockReceipts, eth_getTransactionByHash,
eth_getTransactionReceipt, eth_getLogs (a range of at most --logs-block-range blocks, filtered by
address and topics), debug_traceBlockByNumber (callTracer), eth_call (the tokens' name, symbol,
decimals and totalSupply, the pools' token getters; anything else reverts), and batches of any of
these. Anything else: -32601, as a node without the API answers. `synthetic_stats` tells how many
blocks were made and the seconds spent making them.

    python -m avax_assets_dev.local.synthetic_node --port 8545 [--seed 1] [--scale 1.0] [--days 1]
        [--start 2026-09-24] [--era helicon|granite] [--cache-blocks 512] [--store DIR [--prime] [--workers 2]]

Made on the fly it makes about 35,000 transactions a CPU-second (one core, all of it in Python); with
--store and --prime the days' blocks are made ahead, in processes of their own, and served from disk.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import multiprocessing
import os
import threading
import time
from collections import Counter, OrderedDict
from pathlib import Path

import msgspec
import pyarrow as pa

from avax_assets_dev.local import synthetic_chain
from avax_assets_dev.local.synthetic_chain import ChainSpec, Rendered, SyntheticChain

METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
LIMIT_EXCEEDED = -32005
EXECUTION_REVERTED = 3
NULL = b"null"
TAGS = ("latest", "pending", "safe", "finalized")
ZSTD = pa.Codec("zstd", compression_level=1)  # a made block in a tenth of its JSON's bytes, read back in 0.25 ms


class RpcFailure(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def _text(value: str) -> bytes:
    return b'"' + value.encode() + b'"'


def _abi_text(text: str) -> str:
    raw = text.encode()
    return "0x" + "%064x" % 32 + "%064x" % len(raw) + raw.hex().ljust(64 * max(1, -(-len(raw) // 32)), "0")


class BlockStore:
    """Made blocks kept on disk, one file each (zstd: about 35 KB for a mainnet block's 370 KB of answers),
    under a directory of their spec and of the generator's code (a changed generator never serves blocks an
    older one made): a block made once is read back after."""

    def __init__(self, root: Path, spec: ChainSpec) -> None:
        code = hashlib.sha256(Path(synthetic_chain.__file__).read_bytes()).hexdigest()[:12]
        self.directory = Path(root) / (f"seed{spec.seed}-scale{spec.scale}-{spec.era}-{spec.start}-{spec.days}d-"
                                       f"{spec.txs_per_day}tx-{spec.logs_per_day}logs-h{spec.first_height}-{code}")

    def path(self, number: int) -> Path:
        return self.directory / str(number // 1000) / f"{number}.json-parts"

    def read(self, number: int) -> Rendered | None:
        try:
            data = self.path(number).read_bytes()
        except FileNotFoundError:
            return None
        head, _, packed = data.partition(b"\n")
        lengths = [int(n) for n in head.split()]
        payload = ZSTD.decompress(packed, decompressed_size=sum(lengths), asbytes=True)
        parts, at = [], 0
        for length in lengths:
            parts.append(payload[at:at + length])
            at += length
        header, full, receipts, logs, hashes, tally = parts
        return Rendered(number, header, full, receipts, logs, hashes.decode().split(",") if hashes else [],
                        Counter(msgspec.json.decode(tally)))

    def write(self, block: Rendered) -> None:
        parts = [block.header, block.full, block.receipts, block.logs, ",".join(block.tx_hashes).encode(),
                 msgspec.json.encode(dict(block.tally))]
        path = self.path(block.number)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_bytes(b" ".join(b"%d" % len(p) for p in parts) + b"\n"
                              + ZSTD.compress(b"".join(parts), asbytes=True))
        temporary.replace(path)


_worker: tuple[SyntheticChain, BlockStore] | None = None


def _prime_worker(spec: ChainSpec, root: Path) -> None:
    global _worker
    _worker = (SyntheticChain(spec), BlockStore(root, spec))


def _prime_block(number: int) -> int:
    chain, store = _worker
    if not store.path(number).exists():
        store.write(chain.render(number))
    return number


def prime(spec: ChainSpec, root: Path, blocks: range, workers: int = 2, progress=None) -> float:
    """Make `blocks` into the store ahead of serving, in `workers` processes; the seconds it took."""
    started = time.monotonic()
    context = multiprocessing.get_context("fork")
    with context.Pool(workers, initializer=_prime_worker, initargs=(spec, Path(root))) as pool:
        for done, _ in enumerate(pool.imap_unordered(_prime_block, blocks, chunksize=50), start=1):
            if progress and done % 2000 == 0:
                progress(done)
    return time.monotonic() - started


class SyntheticNode:
    """The JSON-RPC answers (bytes) of a synthetic chain; the blocks asked for last are kept made, and with a
    `store`, every block made is kept on disk too."""

    def __init__(self, chain: SyntheticChain, cache_blocks: int = 512, logs_block_range: int = 2048,
                 store: BlockStore | None = None) -> None:
        self.chain, self.spec, self.store = chain, chain.spec, store
        self.cache_blocks, self.logs_block_range = cache_blocks, logs_block_range
        self._blocks: OrderedDict[int, Rendered] = OrderedDict()
        self._traces: OrderedDict[int, bytes] = OrderedDict()
        self._lock = threading.Lock()  # tests may call it from several threads; the server from one
        self.stats = {"made": 0, "make_cpu_seconds": 0.0, "read": 0, "traced": 0, "trace_cpu_seconds": 0.0,
                      "calls": 0, "requests": 0}
        self._methods = {
            "eth_chainId": lambda p: b'"0xa86a"', "net_version": lambda p: b'"43114"',
            "web3_clientVersion": lambda p: b'"avax-assets-synthetic/1"',
            "eth_blockNumber": lambda p: _text(hex(self.spec.head)),
            "eth_getBlockByNumber": self._block_by_number, "eth_getBlockByHash": self._block_by_hash,
            "eth_getBlockReceipts": self._receipts, "eth_getTransactionByHash": self._transaction,
            "eth_getTransactionReceipt": self._receipt, "eth_getLogs": self._logs,
            "debug_traceBlockByNumber": self._trace_block, "eth_call": self._call,
            "synthetic_stats": lambda p: msgspec.json.encode(self.stats),
        }
        self._tokens = set(chain.cast.tokens) | set(chain.cast.nfts) | set(chain.cast.multis)

    # --- blocks, made once while asked for ---

    def block(self, number: int) -> Rendered:
        with self._lock:
            found = self._blocks.get(number)
            if found is not None:
                self._blocks.move_to_end(number)
                return found
            made = self.store.read(number) if self.store is not None else None
            if made is not None:
                self.stats["read"] += 1
            else:
                started = time.thread_time()
                made = self.chain.render(number)
                self.stats["made"] += 1
                self.stats["make_cpu_seconds"] += time.thread_time() - started
                if self.store is not None:
                    self.store.write(made)
            self._blocks[number] = made
            if len(self._blocks) > self.cache_blocks:
                self._blocks.popitem(last=False)
            return made

    def traces(self, number: int) -> bytes:
        with self._lock:
            found = self._traces.get(number)
            if found is None:
                started = time.thread_time()
                found = self._traces[number] = self.chain.render(number, traced=True).traces
                self.stats["traced"] += 1
                self.stats["trace_cpu_seconds"] += time.thread_time() - started
                if len(self._traces) > self.cache_blocks // 4:
                    self._traces.popitem(last=False)
            return found

    def _number(self, tag) -> int | None:
        """A block tag or hex number → the block number (None: past the head, or not a block)."""
        if tag == "earliest":
            return 0
        if tag in TAGS:
            return self.spec.head
        if not isinstance(tag, str) or not tag.startswith("0x"):
            raise RpcFailure(INVALID_PARAMS, f"invalid block number or tag: {tag!r}")
        try:
            number = int(tag, 16)
        except ValueError:
            raise RpcFailure(INVALID_PARAMS, f"invalid block number: {tag!r}") from None
        return number if number <= self.spec.head else None

    def _by_hash(self, block_hash) -> int | None:
        if not isinstance(block_hash, str) or len(block_hash) != 66:
            raise RpcFailure(INVALID_PARAMS, f"invalid block hash: {block_hash!r}")
        number = int(block_hash[-10:], 16)
        return number if number <= self.spec.head and self.chain.block_hash(number) == block_hash.lower() else None

    def _block_by_number(self, params: list) -> bytes:
        number = self._number(params[0])
        return NULL if number is None else self._shape(self.block(number), params)

    def _block_by_hash(self, params: list) -> bytes:
        number = self._by_hash(params[0])
        return NULL if number is None else self._shape(self.block(number), params)

    @staticmethod
    def _shape(block: Rendered, params: list) -> bytes:
        return block.full if len(params) > 1 and params[1] is True else block.header

    def _receipts(self, params: list) -> bytes:
        tag = params[0]
        number = self._by_hash(tag) if isinstance(tag, str) and len(tag) == 66 else self._number(tag)
        return NULL if number is None else self.block(number).receipts

    def _in_block(self, params: list, what: str) -> bytes:
        tx_hash = params[0]
        if not isinstance(tx_hash, str) or len(tx_hash) != 66:
            raise RpcFailure(INVALID_PARAMS, f"invalid transaction hash: {tx_hash!r}")
        number, index = int(tx_hash[-16:-6], 16), int(tx_hash[-6:], 16)
        if number > self.spec.head:
            return NULL
        block = self.block(number)
        if index >= len(block.tx_hashes) or block.tx_hashes[index] != tx_hash.lower():
            return NULL
        items = msgspec.json.decode(block.full)["transactions"] if what == "transaction" \
            else msgspec.json.decode(block.receipts)
        return msgspec.json.encode(items[index])

    def _transaction(self, params: list) -> bytes:
        return self._in_block(params, "transaction")

    def _receipt(self, params: list) -> bytes:
        return self._in_block(params, "receipt")

    def _logs(self, params: list) -> bytes:
        query = params[0] if params and isinstance(params[0], dict) else {}
        if "blockHash" in query:
            number = self._by_hash(query["blockHash"])
            blocks = range(0) if number is None else range(number, number + 1)
        else:
            first = self._number(query.get("fromBlock", "latest"))
            last = self._number(query.get("toBlock", "latest"))
            last = self.spec.head if last is None else last
            if first is None or first > last:
                return b"[]"
            if last - first + 1 > self.logs_block_range:
                raise RpcFailure(LIMIT_EXCEEDED, f"requested too many blocks from {first} to {last}, maximum is set "
                                                 f"to {self.logs_block_range}")
            blocks = range(first, last + 1)
        address, topics = query.get("address"), query.get("topics")
        if not address and not topics:
            parts = [self.block(n).logs[1:-1] for n in blocks]
            return b"[" + b",".join(p for p in parts if p) + b"]"
        wanted = {a.lower() for a in ([address] if isinstance(address, str) else address or [])}
        logs = [log for n in blocks for log in msgspec.json.decode(self.block(n).logs)
                if (not wanted or log["address"] in wanted) and _topics_match(log["topics"], topics or [])]
        return msgspec.json.encode(logs)

    def _trace_block(self, params: list) -> bytes:
        config = params[1] if len(params) > 1 and isinstance(params[1], dict) else {}
        if config.get("tracer") != "callTracer":
            raise RpcFailure(INVALID_PARAMS, "only the callTracer is served here")
        number = self._number(params[0])
        if number is None:
            raise RpcFailure(-32000, f"block #{params[0]} not found")
        return self.traces(number)

    def _call(self, params: list) -> bytes:
        call = params[0] if params and isinstance(params[0], dict) else {}
        to, data = str(call.get("to") or "").lower(), str(call.get("data") or call.get("input") or "")[:10]
        cast = self.chain.cast
        pool = cast.by_address.get(to)
        if pool is not None and data in ("0x0dfe1681", "0x05e8746d"):  # token0(), getTokenX()
            return _text("0x" + "%064x" % int(pool.token0, 16))
        if pool is not None and data in ("0xd21220a7", "0xda10610c"):  # token1(), getTokenY()
            return _text("0x" + "%064x" % int(pool.token1, 16))
        if to in self._tokens:
            index = cast.token_index.get(to, 0)
            answers = {"0x06fdde03": _abi_text(f"Synthetic Token {index}"), "0x95d89b41": _abi_text(f"SYN{index}"),
                       "0x313ce567": "0x" + "%064x" % (18 if index % 3 else 6),
                       "0x18160ddd": "0x" + "%064x" % (10**24 + index)}
            if data in answers and (to in cast.token_index or data in ("0x06fdde03", "0x95d89b41")):
                return _text(answers[data])
        raise RpcFailure(EXECUTION_REVERTED, "execution reverted")

    # --- JSON-RPC ---

    def answer(self, body: bytes) -> bytes:
        """The answer to a request body: one call or a batch."""
        self.stats["requests"] += 1
        try:
            request = msgspec.json.decode(body)
        except msgspec.DecodeError:
            return b'{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error"}}'
        if isinstance(request, list):
            if not request:
                return b'{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"empty batch"}}'
            return b"[" + b",".join(self._one(call) for call in request) + b"]"
        return self._one(request)

    def _one(self, call) -> bytes:
        self.stats["calls"] += 1
        if not isinstance(call, dict) or not isinstance(call.get("method"), str):
            return b'{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"invalid request"}}'
        head = b'{"jsonrpc":"2.0","id":' + msgspec.json.encode(call.get("id")) + b","
        method, params = call["method"], call.get("params") or []
        handler = self._methods.get(method)
        try:
            if handler is None:
                raise RpcFailure(METHOD_NOT_FOUND, f"the method {method} does not exist/is not available")
            if not isinstance(params, list):
                raise RpcFailure(INVALID_PARAMS, "params must be an array")
            return head + b'"result":' + handler(params) + b"}"
        except (IndexError, KeyError, TypeError, AttributeError):
            failure = RpcFailure(INVALID_PARAMS, f"invalid params for {method}")
        except RpcFailure as exc:
            failure = exc
        return head + b'"error":' + msgspec.json.encode({"code": failure.code, "message": failure.message}) + b"}"


def _topics_match(topics: list, wanted: list) -> bool:
    for i, choice in enumerate(wanted):
        if choice is None:
            continue
        options = choice if isinstance(choice, list) else [choice]
        if i >= len(topics) or topics[i] not in {o.lower() for o in options}:
            return False
    return True


# --- HTTP/1.1 over asyncio ------------------------------------------------------------------------

class _Http(asyncio.Protocol):
    """Just enough HTTP/1.1 for JSON-RPC clients: POST with a Content-Length, keep-alive, pipelining."""

    def __init__(self, node: SyntheticNode) -> None:
        self.node, self.buffer, self.transport = node, bytearray(), None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.transport is not None and not self.transport.is_closing():
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            lines = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
            parts = lines[0].split(" ")
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
            if "chunked" in headers.get("transfer-encoding", "").lower():
                self._reply(411, b'{"error":"send a Content-Length"}', keep=False)
                return
            length = int(headers.get("content-length") or 0)
            if len(self.buffer) < end + 4 + length:
                return
            body = bytes(self.buffer[end + 4:end + 4 + length])
            del self.buffer[:end + 4 + length]
            version = parts[2] if len(parts) > 2 else "HTTP/1.0"
            connection = headers.get("connection", "").lower()
            keep = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
            if parts[0] != "POST":
                self._reply(405, b'{"error":"JSON-RPC is POSTed"}', keep)
            else:
                self._reply(200, self.node.answer(body), keep)

    def _reply(self, status: int, payload: bytes, keep: bool) -> None:
        reason = {200: "OK", 405: "Method Not Allowed", 411: "Length Required"}[status]
        self.transport.write(b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n"
                             % (status, reason.encode(), len(payload), b"" if keep else b"Connection: close\r\n"))
        self.transport.write(payload)
        if not keep:
            self.transport.close()

    def connection_lost(self, exc) -> None:
        self.transport = None


async def _serve(node: SyntheticNode, host: str, port: int, started: threading.Event | None = None,
                 box: dict | None = None) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Http(node), host, port, reuse_address=True)
    if box is not None:
        box.update(port=server.sockets[0].getsockname()[1], loop=loop, server=server)
    if started is not None:
        started.set()
    async with server:
        await server.serve_forever()


class BackgroundNode:
    """The node on 127.0.0.1 (port 0: any free one) in a thread of this process while entered (tests)."""

    def __init__(self, node: SyntheticNode, port: int = 0) -> None:
        self.node, self._port, self._box = node, port, {}
        self._thread = threading.Thread(target=self._run, daemon=True, name="synthetic-node")
        self._started = threading.Event()

    def _run(self) -> None:
        try:
            asyncio.run(_serve(self.node, "127.0.0.1", self._port, self._started, self._box))
        except asyncio.CancelledError:
            pass

    def __enter__(self) -> BackgroundNode:
        self._thread.start()
        if not self._started.wait(10):
            raise RuntimeError("the synthetic node did not start")
        self.url = f"http://127.0.0.1:{self._box['port']}"
        return self

    def __exit__(self, *exc: object) -> None:
        self._box["loop"].call_soon_threadsafe(self._box["server"].close)  # ends serve_forever
        self._thread.join(10)


def spec_from_args(args: argparse.Namespace) -> ChainSpec:
    return ChainSpec(seed=args.seed, start=dt.date.fromisoformat(args.start), days=args.days, scale=args.scale,
                     era=args.era)


def add_chain_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = ChainSpec()
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--scale", type=float, default=defaults.scale,
                        help="blocks a day as a fraction of mainnet's 43,200 (each as dense as mainnet's)")
    parser.add_argument("--days", type=int, default=defaults.days)
    parser.add_argument("--start", default=defaults.start.isoformat(), help="the first day (UTC)")
    parser.add_argument("--era", choices=("helicon", "granite"), default=defaults.era)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8545)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--cache-blocks", type=int, default=512, help="made blocks kept in memory")
    parser.add_argument("--store", type=Path, help="keep every block made in this directory (and read it back)")
    parser.add_argument("--prime", action="store_true", help="make the days' blocks into the store before serving")
    parser.add_argument("--prime-only", action="store_true", help="make them, then exit")
    parser.add_argument("--workers", type=int, default=2, help="processes making blocks ahead (--prime)")
    add_chain_arguments(parser)
    args = parser.parse_args(argv)
    spec = spec_from_args(args)
    store = BlockStore(args.store, spec) if args.store else None
    if store and (args.prime or args.prime_only):
        blocks = range(spec.first_height - 1, spec.head + 1)
        seconds = prime(spec, args.store, blocks, args.workers,
                        lambda done: print(f"made {done} of {len(blocks)} blocks", flush=True))
        print(f"{len(blocks)} blocks made into {store.directory} in {seconds:.1f} s", flush=True)
        if args.prime_only:
            return
    node = SyntheticNode(SyntheticChain(spec), cache_blocks=args.cache_blocks, store=store)
    first = spec.day_blocks(spec.start)
    print(f"synthetic C-Chain on http://{args.host}:{args.port}: days {spec.start}.. ({spec.days}), "
          f"{spec.blocks_per_day} blocks a day from {first.start}, head {spec.head}", flush=True)
    try:
        asyncio.run(_serve(node, args.host, args.port))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
