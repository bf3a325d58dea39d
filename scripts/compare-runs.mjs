#!/usr/bin/env node
// Where two training runs part: compares the per-step losses (iterations.jsonl) and the per-epoch weight
// digests (log.jsonl) of run folders A and B, run by run. Usage: compare-runs.mjs A B [A2 B2 ...]
// Prints one JSON line per pair; exits 1 when any pair differs.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

const lines = (file) =>
  existsSync(file)
    ? readFileSync(file, "utf8")
        .split("\n")
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l))
    : [];

function compare(a, b) {
  const [ia, ib] = [lines(path.join(a, "iterations.jsonl")), lines(path.join(b, "iterations.jsonl"))];
  const [la, lb] = [lines(path.join(a, "log.jsonl")), lines(path.join(b, "log.jsonl"))];
  let steps = 0;
  let firstStep = null;
  for (let e = 0; e < Math.min(ia.length, ib.length) && !firstStep; e++) {
    for (let i = 0; i < ia[e].losses.length; i++) {
      steps++;
      if (ia[e].losses[i] !== ib[e].losses[i] || ia[e].gradNorms[i] !== ib[e].gradNorms[i]) {
        firstStep = { epoch: e, iteration: i, lossA: ia[e].losses[i], lossB: ib[e].losses[i] };
        break;
      }
    }
  }
  const machine = (dir) => {
    const file = path.join(dir, "training.json");
    return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")).machine ?? null) : null;
  };
  const [ma, mb] = [machine(a), machine(b)];
  // Bit-identity is promised only for the same CPU model, thread count, libtorch and device.
  const sameMachine = JSON.stringify(ma) === JSON.stringify(mb);
  const firstDigest = la.findIndex((x, e) => x.weightsDigest !== lb[e]?.weightsDigest);
  const same = !firstStep && firstDigest < 0 && ia.length === ib.length && la.length === lb.length;
  return {
    a,
    b,
    same,
    sameMachine,
    machines: sameMachine ? ma : [ma, mb],
    epochs: [la.length, lb.length],
    stepsCompared: steps,
    firstStep,
    firstDigestEpoch: firstDigest < 0 ? null : firstDigest,
  };
}

const args = process.argv.slice(2);
if (args.length < 2 || args.length % 2) {
  process.stderr.write("usage: compare-runs.mjs RUN_A RUN_B [RUN_A2 RUN_B2 ...]\n");
  process.exit(2);
}
let differ = false;
for (let k = 0; k < args.length; k += 2) {
  const r = compare(args[k], args[k + 1]);
  differ ||= !r.same;
  process.stdout.write(`${JSON.stringify(r)}\n`);
}
process.exit(differ ? 1 : 0);
