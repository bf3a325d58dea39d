// scripts/run-bench.mjs: `--help` lists the benchmarks and prints one benchmark's usage; a wrong option
// or value is one line naming it with exit 2, before any work starts.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

// dist/test/scripts → the repository.
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

const bench = (...args: string[]) =>
  spawnSync(process.execPath, [path.join(ROOT, "scripts", "run-bench.mjs"), ...args], { cwd: ROOT, encoding: "utf8" });

test("npm run bench -- --help lists every benchmark with what it measures", () => {
  const r = bench("--help");
  assert.equal(r.status, 0);
  assert.match(r.stdout, /^ {2}twin-train {3}Our trainer next to an independent PyTorch twin/m);
  assert.match(r.stdout, /^ {2}brats-et {5}The KiTS-cyst analogue/m);
  const unknown = bench("no-such-bench");
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /no benchmark "no-such-bench"/);
});

test("a benchmark's --help is its usage; a wrong option or value exits 2 naming it", () => {
  const help = bench("ms", "--help");
  assert.equal(help.status, 0);
  assert.match(help.stdout, /^npm run bench -- ms \[--quick/);
  assert.match(help.stdout, /--dice-over lesion\|all/);
  const option = bench("twin-fp", "--bogus");
  assert.equal(option.status, 2);
  assert.equal(option.stderr.trim(), "npm run bench -- twin-fp: Unknown option '--bogus' (--help lists the options)");
  const value = bench("brats-et", "--quick", "--dice-over", "both");
  assert.equal(value.status, 2);
  assert.match(value.stderr, /brats-et: --dice-over must be lesion or all/);
  const device = bench("twin-train", "--device", "tpu");
  assert.equal(device.status, 2);
  assert.match(device.stderr, /twin-train: --device must be cpu or cuda, got tpu/);
  const jobs = bench("twin-train", "--jobs", "0");
  assert.equal(jobs.status, 2);
  assert.match(jobs.stderr, /twin-train: --jobs must be a whole number ≥ 1, got 0/);
  const deadline = bench("twin-train", "--deadline", "soon");
  assert.equal(deadline.status, 2);
  assert.match(deadline.stderr, /twin-train: --deadline must be a number of seconds > 0, got soon/);
  const arm = bench("twin-train", "--arms", "ours,nnunet");
  assert.equal(arm.status, 2);
  assert.match(arm.stderr, /twin-train: --arms takes ours and\/or twin, got nnunet/);
  const source = bench("twin-train", "--data", "brats", "--mode", "backsplit", "--sources", "atlas_tracts");
  assert.equal(source.status, 2);
  assert.match(
    source.stderr,
    /twin-train: --mode backsplit with --data brats takes --sources from subregions, got atlas_tracts/,
  );
  const from = mkdtempSync(path.join(os.tmpdir(), "twin-fp-"));
  mkdirSync(path.join(from, "runs"));
  const change = bench("twin-fp", "--from", from, "--retrain", "torchbody,torchbody+nods+bogus");
  assert.equal(change.status, 2);
  assert.match(change.stderr, /twin-fp: --retrain takes noaug, .* \(or several joined by \+\), not "bogus"/);
  rmSync(from, { recursive: true });
});
