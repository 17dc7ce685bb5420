// Compile the devchain contracts with solc-js and write artifacts.json (ABI + creation bytecode per contract, and
// the runtime bytecode of those placed at a fixed address instead of deployed).
// Run from the repo root: node avax_assets_dev/devchain/contracts/compile.mjs
// (solc and @openzeppelin/contracts come from deployments/local/node: `npm ci` there first).
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const nodeTools = path.resolve(here, "../../../deployments/local/node");
const require = createRequire(path.join(nodeTools, "package.json"));
const solc = require("solc");

const files = ["DevChain.sol", "DevPair.sol", "DevEvents.sol", "DevTeleporter.sol"];
const sources = Object.fromEntries(files.map((f) => [f, { content: fs.readFileSync(path.join(here, f), "utf8") }]));
const input = {
  language: "Solidity",
  sources,
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: "cancun",
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
  },
};
const findImports = (p) => {
  try { return { contents: fs.readFileSync(require.resolve(p), "utf8") }; }
  catch (e) { return { error: `not found: ${p}` }; }
};
const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
const errors = (output.errors || []).filter((e) => e.severity === "error");
if (errors.length) { console.error(errors.map((e) => e.formattedMessage).join("\n")); process.exit(1); }
const wanted = { "DevChain.sol": ["DevToken", "DevCollectible", "DevMultiToken", "Forwarder", "Child"],
                 "DevPair.sol": ["DevPair"],
                 "DevEvents.sol": ["DevWAVAX", "DevLBPair", "DevV3Pool", "DevBytes32Token", "DevOddToken"],
                 "DevTeleporter.sol": ["DevTeleporterMessenger", "DevIcmReceiver"] };
const placed = new Set(["DevTeleporterMessenger"]); // its runtime code goes to ICM's universal address
const artifacts = { compiler: solc.version(), contracts: {} };
for (const [file, name] of Object.entries(wanted).flatMap(([f, names]) => names.map((n) => [f, n]))) {
  const c = output.contracts[file][name];
  artifacts.contracts[name] = { abi: c.abi, bytecode: "0x" + c.evm.bytecode.object };
  if (placed.has(name)) artifacts.contracts[name].runtime = "0x" + c.evm.deployedBytecode.object;
}
fs.writeFileSync(path.join(here, "artifacts.json"), JSON.stringify(artifacts, null, 1) + "\n");
console.log(`wrote artifacts for ${Object.values(wanted).flat().join(", ")} with solc ${solc.version()}`);
