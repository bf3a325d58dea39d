// Runs the compiled tests (dist/test/**/*.test.js) with node's test runner, one file at a time
// (each file sets its own libtorch thread count; running files in parallel would oversubscribe 2 cores).
// Usage: node scripts/run-tests.mjs [filter...]   e.g. `npm test -- engine/ops`
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const testRoot = path.join(root, "dist", "test");

function find(dir) {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return find(full);
    return name.endsWith(".test.js") ? [full] : [];
  });
}

const filters = process.argv.slice(2);
const files = find(testRoot)
  .filter((f) => filters.length === 0 || filters.some((flt) => f.includes(flt)))
  .sort();
if (files.length === 0) {
  console.error(`no test files match ${filters.join(" ")}`);
  process.exit(1);
}
const result = spawnSync(process.execPath, ["--expose-gc", "--test", "--test-concurrency=1", ...files], {
  stdio: "inherit",
  cwd: root,
  env: { ...process.env, BACKSPLIT_THREADS: process.env.BACKSPLIT_THREADS ?? "2" },
});
process.exit(result.status ?? 1);
