#!/usr/bin/env node
// Validates AsyncAPI documents with the official parser (@asyncapi/parser, offline):
// structure, schemas and every $ref. Prints each diagnostic; exits 1 on any error.
// Usage: node scripts/validate-asyncapi.js asyncapi/hub.yaml [...]
"use strict";

const fs = require("node:fs");
const { Parser, DiagnosticSeverity } = require("@asyncapi/parser");

async function validate(path) {
  const parser = new Parser();
  const { document, diagnostics } = await parser.parse(fs.readFileSync(path, "utf8"), {
    source: path,
  });
  const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error);
  for (const d of diagnostics) {
    const where = (d.path || []).join(".");
    console.log(`${path}: ${DiagnosticSeverity[d.severity]} ${d.code}: ${d.message} (${where})`);
  }
  return document !== undefined && errors.length === 0;
}

(async () => {
  const paths = process.argv.slice(2);
  if (paths.length === 0) {
    console.error("usage: validate-asyncapi.js FILE...");
    process.exit(2);
  }
  let ok = true;
  for (const path of paths) {
    ok = (await validate(path)) && ok;
  }
  console.log(ok ? "valid" : "INVALID");
  process.exit(ok ? 0 : 1);
})();
