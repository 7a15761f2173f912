// Validates custom resources against the schemas that @kubernetes-models/* generate from the
// operators' own API types. Reads [{"id", "package", "object"}] as JSON on stdin, writes
// [{"id", "error"}] (error null when valid) as JSON on stdout. Called by tools/crd_validate.py.
import { readFileSync } from "node:fs";

const items = JSON.parse(readFileSync(0, "utf8"));
const results = [];
for (const { id, package: pkg, object } of items) {
  const path = `${pkg}/${object.apiVersion}/${object.kind}`;
  let error = null;
  try {
    const mod = await import(path);
    const Model = mod[object.kind];
    if (typeof Model !== "function") throw new Error(`${path} exports no ${object.kind}`);
    new Model(object).validate();
  } catch (e) {
    error = String(e && e.message ? e.message : e);
  }
  results.push({ id, error });
}
process.stdout.write(JSON.stringify(results));
