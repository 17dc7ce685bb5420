// Atomic C-Chain transactions encoded and signed by Ava Labs' JavaScript library (npm avalanche@3.16.0,
// installed in deployments/local/node): an encoder independent of the project's decoder. Prints JSON: for
// each transaction its bytes (hex), its id (SHA-256 of the bytes, CB58) and the fields the library holds;
// and a batch of all of them as Apricot Phase 5 blocks carry it. Run by test_atomic.py with node.
"use strict";
const path = require("path");
const modules = path.join(__dirname, "..", "..", "deployments", "local", "node", "node_modules");
const { BinTools, BN, Buffer } = require(path.join(modules, "avalanche"));
const evm = require(path.join(modules, "avalanche", "dist", "apis", "evm"));
const { createHash } = require("crypto");

const bintools = BinTools.getInstance();
const MAINNET = 1;
const cb58 = (text) => bintools.cb58Decode(text);
const C_CHAIN = cb58("2q9e4r6Mu3U68nU1fYjgbR6JvwrRx36CohpAX5UQxse55x1Q5");
const X_CHAIN = cb58("2oYMBNV4eNHyqk2fjjV5nVQLDbtmNJzq5s3qs3Lo6ftnC6FByM");
const P_CHAIN = cb58("11111111111111111111111111111111LpoYY");
const AVAX = cb58("FvwEAhmxKfeiG8SnEvq42hc6whRyY3EFYAvebMqDNDGCgxN5Z");
const OTHER_ASSET = Buffer.from("aa".repeat(32), "hex");

// three fixed keys (test keys, no value anywhere)
const keychain = new evm.KeyChain("avax", "C");
const keys = ["01", "02", "03"].map((b) => keychain.importKey(Buffer.from(b.repeat(32), "hex")));
const short = keys.map((k) => k.getAddress());

function utxoInput(txHex, index, asset, amount, signers) {
  const input = new evm.SECPTransferInput(new BN(amount));
  signers.forEach((signer, position) => input.addSignatureIdx(position, short[signer]));
  const outputIndex = Buffer.alloc(4);
  outputIndex.writeUInt32BE(index, 0);
  return new evm.TransferableInput(Buffer.from(txHex, "hex"), outputIndex, asset, input);
}

function utxoOutput(asset, amount, owners, locktime, threshold) {
  const out = new evm.SECPTransferOutput(new BN(amount), owners.map((o) => short[o]), new BN(locktime), threshold);
  return new evm.TransferableOutput(asset, out);
}

function evmInput(address, amount, asset, nonce, signer) {
  const input = new evm.EVMInput(address, new BN(amount), asset, new BN(nonce));
  input.addSignatureIdx(0, short[signer]);
  return input;
}

function described(name, tx) {
  const bytes = tx.toBuffer();
  const id = bintools.cb58Encode(createHash("sha256").update(bytes).digest());
  const unsigned = tx.getUnsignedTx().getTransaction();
  const fields = { type: unsigned.getTypeName(), networkID: unsigned.getNetworkID(),
                   blockchainID: bintools.cb58Encode(unsigned.getBlockchainID()) };
  if (fields.type === "ImportTx") {
    fields.sourceChain = bintools.cb58Encode(unsigned.getSourceChain());
    fields.importedInputs = unsigned.getImportInputs().map((i) => ({
      txID: bintools.cb58Encode(i.getTxID()), outputIndex: i.getOutputIdx().readUInt32BE(0),
      assetID: bintools.cb58Encode(i.getAssetID()), amount: i.getInput().getAmount().toString(),
      signatureIndices: i.getInput().getSigIdxs().map((s) => s.toBuffer().readUInt32BE(0)) }));
    fields.outs = unsigned.getOuts().map((o) => ({ address: "0x" + o.getAddress().toString("hex"),
      amount: o.getAmount().toString(), assetID: bintools.cb58Encode(o.getAssetID()) }));
  } else {
    fields.destinationChain = bintools.cb58Encode(unsigned.getDestinationChain());
    fields.inputs = unsigned.getInputs().map((i) => ({ address: "0x" + i.getAddress().toString("hex"),
      amount: i.getAmount().toString(), assetID: bintools.cb58Encode(i.getAssetID()), nonce: i.getNonce().toString() }));
    fields.exportedOutputs = unsigned.getExportedOutputs().map((o) => ({
      assetID: bintools.cb58Encode(o.getAssetID()), amount: o.getOutput().getAmount().toString(),
      locktime: o.getOutput().getLocktime().toString(), threshold: o.getOutput().getThreshold(),
      addresses: o.getOutput().getAddresses().map((a) => "0x" + a.toString("hex")) }));
  }
  fields.signaturesPerCredential = tx.credentials.map((c) => c.sigArray.length);
  return { name, hex: bytes.toString("hex"), id, fields };
}

const importFromX = new evm.ImportTx(MAINNET, C_CHAIN, X_CHAIN, [
  utxoInput("11".repeat(32), 0, AVAX, "1000000000", [0]),
  utxoInput("22".repeat(32), 7, AVAX, "18446744073709551615", [1]),  // uint64's maximum
], [new evm.EVMOutput("0x" + "ab".repeat(20), new BN("1000000000"), AVAX)]);
const importFromP = new evm.ImportTx(MAINNET, C_CHAIN, P_CHAIN, [
  utxoInput("33".repeat(32), 2, AVAX, "5000001", [2]),
  utxoInput("44".repeat(32), 0, OTHER_ASSET, "42", [0]),
], [new evm.EVMOutput("0x" + "cd".repeat(20), new BN("5000000"), AVAX),
    new evm.EVMOutput("0x" + "cd".repeat(20), new BN("42"), OTHER_ASSET)]);
const exportToP = new evm.ExportTx(MAINNET, C_CHAIN, P_CHAIN, [
  evmInput("0x" + "ef".repeat(20), "2000001000", AVAX, 17, 0),
], [utxoOutput(AVAX, "2000000000", [0, 1, 2], "1700000000", 2)]);
const exportToX = new evm.ExportTx(MAINNET, C_CHAIN, X_CHAIN, [
  evmInput("0x" + "01".repeat(20), "300", AVAX, 0, 1),
  evmInput("0x" + "02".repeat(20), "700", AVAX, 5, 2),
], [utxoOutput(AVAX, "10", [1], "0", 1), utxoOutput(AVAX, "90", [0, 2], "0", 1)]);

const txs = [["import from X", importFromX], ["import from P", importFromP], ["export to P", exportToP],
             ["export to X", exportToX]].map(([name, unsigned]) =>
  described(name, new evm.UnsignedTx(unsigned).sign(keychain)));
// Apricot Phase 5: one codec version, the number of transactions, then each without its own codec version
const count = Buffer.alloc(4);
count.writeUInt32BE(txs.length, 0);
const batch = Buffer.concat([Buffer.from("0000", "hex"), count, ...txs.map((t) => Buffer.from(t.hex.slice(4), "hex"))]);
const addresses = short.map((s) => ({ short: "0x" + s.toString("hex"), bech32: keychain.getKey(s).getAddressString() }));
process.stdout.write(JSON.stringify({ library: "avalanche@3.16.0", txs, batch: batch.toString("hex"), addresses }));
