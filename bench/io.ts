// npm run bench -- io [--file F] [--rounds 7]
// Read and write time of one NIfTI volume (default: the MS FLAIR, 182×218×182 .nii.gz) through
// backsplit and through nibabel in the same run, alternating, medians and ratios (ours / nibabel).
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { readVolume, writeVolume } from "../src/io/index.js";
import { parseArgs } from "./lib/args.js";
import { PythonTwin, median } from "./twin.js";

const { values } = parseArgs({
  options: {
    file: {
      type: "string",
      default: path.resolve("..", "shared", "data", "ms-lesjak2017", "patient07", "FLAIR.nii.gz"),
    },
    rounds: { type: "string", default: "7" },
  },
});
const file = String(values.file);
const rounds = Number(values.rounds);
const dir = mkdtempSync(path.join(os.tmpdir(), "bs-bench-io-"));
const twin = new PythonTwin("nib_twin.py", process.env, ["nibabel", "numpy"]);
const times = {
  oursRead: [] as number[],
  nibRead: [] as number[],
  oursWrite: [] as number[],
  nibWrite: [] as number[],
};
const volume = await readVolume(file);
for (let r = 0; r < rounds + 1; r++) {
  let t0 = performance.now();
  await readVolume(file);
  const read = (performance.now() - t0) / 1000;
  t0 = performance.now();
  await writeVolume(path.join(dir, "ours.nii.gz"), volume);
  const write = (performance.now() - t0) / 1000;
  const nibRead = ((await twin.ask({ cmd: "read", path: file })) as { seconds: number }).seconds;
  const nibWrite = (
    (await twin.ask({ cmd: "write", path: file, out: path.join(dir, "nib.nii.gz") })) as { seconds: number }
  ).seconds;
  if (r === 0) continue; // warm-up round (page cache, imports)
  times.oursRead.push(read);
  times.oursWrite.push(write);
  times.nibRead.push(nibRead);
  times.nibWrite.push(nibWrite);
}
twin.close();
rmSync(dir, { recursive: true, force: true });
const m = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)])) as Record<
  keyof typeof times,
  number
>;
console.log(
  JSON.stringify({
    bench: "io",
    file: path.basename(file),
    shape: volume.shape,
    rounds,
    oursReadS: m.oursRead,
    nibabelReadS: m.nibRead,
    readRatio: m.oursRead / m.nibRead,
    oursWriteS: m.oursWrite,
    nibabelWriteS: m.nibWrite,
    writeRatio: m.oursWrite / m.nibWrite,
    ratio: m.oursRead / m.nibRead,
    target: 1.0,
  }),
);
