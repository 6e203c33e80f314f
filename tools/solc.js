#!/usr/bin/env node
// A solc-compatible command line over the official solc-js build (npm `solc`).
//
// There is no native solc on these machines and nothing may be downloaded outside npm/pip,
// so py-solc-x (ape-solidity), forge and slither call this instead. It answers the two
// invocations they make:
//   solc --version
//   solc --standard-json [--base-path P] [--allow-paths A,B] [--include-path I ...] [other flags ignored]
// Imports are resolved from the base path, the include paths and the allowed paths, in that
// order, and from node_modules beside this project, never from the network.
"use strict";
const fs = require("fs");
const path = require("path");

const projectRoot = path.resolve(__dirname, "..");
const solc = require(path.join(projectRoot, "node_modules", "solc"));

function versionLine() {
  // py-solc-x parses r"\d+\.\d+\.\d+(\+commit\.\w+)" from the second line, like native solc.
  const v = solc.version().replace(".Emscripten.clang", "");
  return `solc, the solidity compiler commandline interface\nVersion: ${v}.Linux.g++`;
}

function parseArgs(argv) {
  const opts = { standardJson: false, version: false, basePath: null, includePaths: [], allowPaths: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const takeValue = () => {
      if (a.includes("=")) return a.slice(a.indexOf("=") + 1);
      i += 1;
      return argv[i];
    };
    if (a === "--version" || a === "-v") opts.version = true;
    else if (a === "--standard-json") opts.standardJson = true;
    else if (a.startsWith("--base-path")) opts.basePath = takeValue();
    else if (a.startsWith("--include-path")) opts.includePaths.push(takeValue());
    else if (a.startsWith("--allow-paths")) opts.allowPaths.push(...takeValue().split(","));
    // every other flag (optimizer settings, --no-color, ...) is carried inside the JSON input
  }
  return opts;
}

function makeResolver(opts) {
  const roots = [];
  const add = (p) => { if (p && !roots.includes(path.resolve(p))) roots.push(path.resolve(p)); };
  add(opts.basePath || process.cwd());
  opts.includePaths.forEach(add);
  opts.allowPaths.forEach(add);
  add(path.join(projectRoot, "node_modules"));
  add(projectRoot);
  return function findImports(importPath) {
    const candidates = path.isAbsolute(importPath) ? [importPath] : roots.map((r) => path.join(r, importPath));
    for (const c of candidates) {
      try {
        if (fs.statSync(c).isFile()) return { contents: fs.readFileSync(c, "utf8") };
      } catch (_) { /* try the next root */ }
    }
    return { error: `File not found: ${importPath} (searched ${roots.join(", ")})` };
  };
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.version) {
    process.stdout.write(versionLine() + "\n");
    return 0;
  }
  if (!opts.standardJson) {
    process.stderr.write("This solc shim supports only --version and --standard-json (input on stdin).\n");
    return 1;
  }
  const input = fs.readFileSync(0, "utf8");
  const output = solc.compile(input, { import: makeResolver(opts) });
  process.stdout.write(output + "\n");
  return 0;
}

process.exitCode = main();
