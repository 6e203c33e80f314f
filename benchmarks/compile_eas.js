#!/usr/bin/env node
// Compile the Ethereum Attestation Service (npm @ethereum-attestation-service/eas-contracts)
// with solc-js 0.8.29 (npm alias `solc0829`), through standard JSON, offline.
//
//   node benchmarks/compile_eas.js OUT.json
//
// Settings follow EAS's own build: optimizer on with 1,000,000 runs, no metadata hash.
// OpenZeppelin imports resolve to the project's @openzeppelin/contracts 5.7.0 (EAS's own build
// uses 5.3.0 and EVM paris; OpenZeppelin 5.7 needs `mcopy`, so the EVM version here is cancun,
// the 0.8.29 default). The output holds ABI and bytecode of SchemaRegistry and EAS, and
// whether the runtime bytecode equals the prebuilt artifact shipped in the npm package (it
// does not, for those two reasons; the benchmark deploys both and reports both).
"use strict";
const fs = require("fs");
const path = require("path");

const root = path.resolve(__dirname, "..");
const nm = path.join(root, "node_modules");
const solc = require(path.join(nm, "solc0829"));
const pkg = "@ethereum-attestation-service/eas-contracts";
const pkgDir = path.join(nm, pkg);
const out = process.argv[2] || path.join(__dirname, ".cache", "eas-build.json");

const targets = { EAS: "contracts/EAS.sol", SchemaRegistry: "contracts/SchemaRegistry.sol" };
const sources = {};
for (const rel of Object.values(targets)) {
  const unit = `${pkg}/${rel}`;
  sources[unit] = { content: fs.readFileSync(path.join(nm, unit), "utf8") };
}

function findImports(importPath) {
  const file = path.join(nm, importPath);
  if (file.startsWith(nm) && fs.existsSync(file)) return { contents: fs.readFileSync(file, "utf8") };
  return { error: `File not found: ${importPath}` };
}

const input = {
  language: "Solidity",
  sources,
  settings: {
    optimizer: { enabled: true, runs: 1000000 },
    metadata: { bytecodeHash: "none" },
    evmVersion: "cancun",
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
  },
};

const t0 = Date.now();
const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
const errors = (output.errors || []).filter((e) => e.severity === "error");
if (errors.length) {
  for (const e of errors) console.error(e.formattedMessage);
  process.exit(1);
}
const result = {
  compiler: solc.version(),
  package: require(path.join(pkgDir, "package.json")).version,
  openzeppelin: require(path.join(nm, "@openzeppelin/contracts/package.json")).version,
  settings: input.settings,
  seconds: (Date.now() - t0) / 1000,
  contracts: {},
};
for (const [name, rel] of Object.entries(targets)) {
  const c = output.contracts[`${pkg}/${rel}`][name];
  const shipped = JSON.parse(fs.readFileSync(path.join(pkgDir, "artifacts", rel, `${name}.json`), "utf8"));
  const deployed = "0x" + c.evm.deployedBytecode.object;
  result.contracts[name] = {
    abi: c.abi,
    bytecode: "0x" + c.evm.bytecode.object,
    deployedBytecode: deployed,
    sameAsShippedArtifact: deployed.toLowerCase() === String(shipped.deployedBytecode).toLowerCase(),
    runtimeSize: (deployed.length - 2) / 2,
  };
}
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, JSON.stringify(result));
console.log(`compiled EAS ${result.package} with solc ${result.compiler} in ${result.seconds}s -> ${out}`);
