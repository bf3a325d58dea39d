// `backsplit predict` mirrors by default, as nnU-Net's predictor does; `--no-mirror` predicts once per tile.
// The mirrored sum itself is pinned against hand-flipped logits in predict.test.ts; this checks the command's
// default: its probabilities equal predictFolder's with mirroring and differ from those without.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { setThreads } from "../../src/engine/index.js";
import { readVolume } from "../../src/io/index.js";
import { predictFolder } from "../../src/predict/predict.js";
import { train } from "../../src/train/trainer.js";
import { config, tinyDataset } from "../fixtures/training.js";

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "bin", "backsplit.mjs");
const cli = (args: string[]) =>
  spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", env: { ...process.env, BACKSPLIT_THREADS: "2" } });

test("predict mirrors by default; --no-mirror predicts once per tile; both flags together are a usage error", async () => {
  setThreads(2);
  const { root, preprocessed } = await tinyDataset();
  const run = path.join(root, "run");
  await train(config(root, preprocessed, { epochs: 3, out: run }));
  const input = path.join(root, "imagesTr");
  const probability = async (out: string) => Array.from((await readVolume(path.join(out, "a_prob.nii.gz"))).data);

  const byDefault = path.join(root, "pred-default");
  const r = cli(["predict", input, byDefault, "--model", run, "--save-probabilities", "--device", "cpu"]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(readFileSync(path.join(byDefault, "prediction.json"), "utf8")).mirror, true);
  const once = path.join(root, "pred-once");
  const s = cli(["predict", input, once, "--model", run, "--save-probabilities", "--device", "cpu", "--no-mirror"]);
  assert.equal(s.status, 0, s.stderr);
  assert.equal(JSON.parse(readFileSync(path.join(once, "prediction.json"), "utf8")).mirror, false);

  const fromApi = async (mirror: boolean) => {
    const out = path.join(root, `api-${mirror}`);
    const options = {
      collapse: "prob" as const,
      threshold: 0.5,
      mirror,
      device: "cpu",
      saveProbabilities: true,
      saveClasses: false,
    };
    await predictFolder({ runs: [run], input, out, options });
    return probability(out);
  };
  const [mirrored, plain] = [await probability(byDefault), await probability(once)];
  assert.deepEqual(mirrored, await fromApi(true), "the default is predictFolder with mirroring");
  assert.deepEqual(plain, await fromApi(false), "--no-mirror is predictFolder without it");
  const largest = Math.max(...mirrored.map((p, i) => Math.abs(p - plain[i])));
  assert.ok(largest > 1e-4, `mirroring changes the probabilities (largest difference ${largest})`);

  const both = cli(["predict", input, path.join(root, "pred-both"), "--model", run, "--mirror", "--no-mirror"]);
  assert.equal(both.status, 2, both.stderr);
  assert.match(both.stderr, /--mirror and --no-mirror contradict/);
});
