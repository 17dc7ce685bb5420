// FIXTURES: the C-Chain atomic transactions of the fake devchain (atomic_fixtures.py writes the plan, this encodes
// it), encoded and signed by Ava Labs' JavaScript library (npm avalanche@3.16.0, installed in
// deployments/local/node), never by the project's decoder. Reads the plan (JSON) on stdin; prints, per block, each
// transaction's bytes (hex), its id (SHA-256 of the bytes, CB58) and the fields the library holds, and the block's
// blockExtraData as Apricot Phase 5 blocks carry it (a batch); and each key's addresses.
"use strict";
const path = require("path");
const modules = path.join(__dirname, "..", "..", "deployments", "local", "node", "node_modules");
const { BinTools, BN, Buffer } = require(path.join(modules, "avalanche"));
const evm = require(path.join(modules, "avalanche", "dist", "apis", "evm"));
const { utils: ethers } = require(path.join(modules, "ethers"));  // avalanche@3.16.0's own dependency
const { createHash } = require("crypto");

const bintools = BinTools.getInstance();
const MAINNET = 1;
const cb58 = (text) => bintools.cb58Decode(text);
const C_CHAIN = cb58("2q9e4r6Mu3U68nU1fYjgbR6JvwrRx36CohpAX5UQxse55x1Q5");
const CHAINS = { P: cb58("11111111111111111111111111111111LpoYY"),
                 X: cb58("2oYMBNV4eNHyqk2fjjV5nVQLDbtmNJzq5s3qs3Lo6ftnC6FByM") };
const AVAX = cb58("FvwEAhmxKfeiG8SnEvq42hc6whRyY3EFYAvebMqDNDGCgxN5Z");

const { version } = require(path.join(modules, "avalanche", "package.json"));
const plan = JSON.parse(require("fs").readFileSync(0, "utf8"));
const keychain = new evm.KeyChain("avax", "C");
const keys = {};
for (const [label, secret] of Object.entries(plan.keys)) {
  const pair = keychain.importKey(Buffer.from(secret, "hex"));
  keys[label] = { short: pair.getAddress(), evm: ethers.computeAddress("0x" + secret).toLowerCase() };
}

function importedInput(spent) {
  const input = new evm.SECPTransferInput(new BN(spent.amount));
  input.addSignatureIdx(0, keys[spent.key].short);
  const outputIndex = Buffer.alloc(4);
  outputIndex.writeUInt32BE(spent.outputIndex, 0);
  return new evm.TransferableInput(cb58(spent.txID), outputIndex, AVAX, input);
}

function exportedOutput(out) {
  const owners = out.owners.map((o) => Buffer.from(o.slice(2), "hex"));
  const secp = new evm.SECPTransferOutput(new BN(out.amount), owners, new BN(out.locktime), out.threshold);
  return new evm.TransferableOutput(AVAX, secp);
}

function evmInput(spent) {
  const input = new evm.EVMInput(keys[spent.key].evm, new BN(spent.amount), AVAX, new BN(spent.nonce));
  input.addSignatureIdx(0, keys[spent.key].short);
  return input;
}

function unsigned(tx) {
  if (tx.kind === "import") {
    return new evm.ImportTx(MAINNET, C_CHAIN, CHAINS[tx.source], tx.inputs.map(importedInput),
                            tx.outputs.map((o) => new evm.EVMOutput(keys[o.key].evm, new BN(o.amount), AVAX)));
  }
  return new evm.ExportTx(MAINNET, C_CHAIN, CHAINS[tx.destination], tx.inputs.map(evmInput),
                          tx.outputs.map(exportedOutput));
}

function fields(body) {
  const held = { type: body.getTypeName(), networkID: body.getNetworkID(),
                 blockchainID: bintools.cb58Encode(body.getBlockchainID()) };
  if (held.type === "ImportTx") {
    held.sourceChain = bintools.cb58Encode(body.getSourceChain());
    held.importedInputs = body.getImportInputs().map((i) => ({
      txID: bintools.cb58Encode(i.getTxID()), outputIndex: i.getOutputIdx().readUInt32BE(0),
      assetID: bintools.cb58Encode(i.getAssetID()), amount: i.getInput().getAmount().toString() }));
    held.outs = body.getOuts().map((o) => ({ address: "0x" + o.getAddress().toString("hex"),
                                             amount: o.getAmount().toString() }));
  } else {
    held.destinationChain = bintools.cb58Encode(body.getDestinationChain());
    held.inputs = body.getInputs().map((i) => ({ address: "0x" + i.getAddress().toString("hex"),
                                                 amount: i.getAmount().toString(), nonce: i.getNonce().toString() }));
    held.exportedOutputs = body.getExportedOutputs().map((o) => ({
      amount: o.getOutput().getAmount().toString(),
      addresses: o.getOutput().getAddresses().map((a) => "0x" + a.toString("hex")) }));
  }
  return held;
}

function encoded(tx) {
  const signed = new evm.UnsignedTx(unsigned(tx)).sign(keychain);
  const bytes = signed.toBuffer();
  return { label: tx.label, id: bintools.cb58Encode(createHash("sha256").update(bytes).digest()),
           hex: bytes.toString("hex"), fields: fields(signed.getUnsignedTx().getTransaction()) };
}

// Apricot Phase 5: one codec version, the number of transactions, then each without its own codec version
function batch(txs) {
  const count = Buffer.alloc(4);
  count.writeUInt32BE(txs.length, 0);
  return Buffer.concat([Buffer.from("0000", "hex"), count, ...txs.map((t) => Buffer.from(t.hex.slice(4), "hex"))]);
}

const blocks = plan.blocks.map((block) => {
  const txs = block.txs.map(encoded);
  return { at: block.at, blockExtraData: "0x" + batch(txs).toString("hex"), txs };
});
const addresses = Object.fromEntries(Object.entries(keys).map(([label, key]) => [label, {
  short: "0x" + key.short.toString("hex"), evm: key.evm }]));
process.stdout.write(JSON.stringify({ library: `avalanche@${version}`, keys: addresses, blocks }));
