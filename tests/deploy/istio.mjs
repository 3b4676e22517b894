// Validates Istio resources against the JSON Schemas of Istio's published CRDs, as compiled
// by the npm package @kubernetes-models/istio (pinned in package.json; its package.json names
// the Istio release the schemas come from). Reads a JSON array of resources on stdin and
// prints a JSON array with, for each, its kind, name and the schema's complaints (empty when
// valid). Used by tests/deploy/test_istio.py.
import { readFileSync } from "node:fs";

// What import() throws for a group, version or kind the package has no model of.
const NO_MODULE = new Set(["ERR_MODULE_NOT_FOUND", "ERR_PACKAGE_PATH_NOT_EXPORTED"]);

const resources = JSON.parse(readFileSync(0, "utf8"));
const results = [];
for (const resource of resources) {
  const { apiVersion, kind } = resource;
  const name = resource.metadata?.name ?? "";
  let errors;
  try {
    const module = await import(`@kubernetes-models/istio/${apiVersion}/${kind}`);
    new module[kind](resource).validate();
    errors = [];
  } catch (error) {
    errors = NO_MODULE.has(error.code)
      ? [`no schema for ${apiVersion} ${kind}`]
      : (error.errors ?? [{ message: String(error) }]).map(
          (e) => `${e.instancePath ?? ""} ${e.message}`.trim(),
        );
  }
  results.push({ kind, name, errors });
}
process.stdout.write(JSON.stringify(results));
