// npm run bench -- interactive [--clicks 3] [--device cpu] [--threads 2] [--structures white_matter,ventricles_csf]
// Latency of one interaction of the random-walker engine on a 182×218×182 MR (MS patient 07, T1),
// clicking on structures of the brainchop 18-class map grouped to five tissues (made here with
// `labels predict` if missing), as `labels interactive --simulate-clicks` does. The goal is < 2 s per
// interaction on 2 CPU cores; printed as medians and maxima, with the Dice reached.
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { openDataset } from "../src/dataset/layout.js";
import { setThreads } from "../src/engine/index.js";
import { simulateClicks } from "../src/interactive/simulate.js";
import { readVolume } from "../src/io/read.js";
import type { Vec3 } from "../src/io/volume.js";
import { groupSource } from "../src/labels/group.js";
import { predictSource } from "../src/labels/predict.js";
import { parseArgs } from "./lib/args.js";
import { median } from "./twin.js";

const { values } = parseArgs({
  options: {
    clicks: { type: "string", default: "3" },
    device: { type: "string", default: "cpu" },
    threads: { type: "string", default: "2" },
    structures: { type: "string", default: "ventricles_csf,deep_grey,white_matter" },
    data: { type: "string", default: path.resolve("..", "shared", "data") },
  },
});
setThreads(Number(values.threads));
const root = path.join(os.tmpdir(), "backsplit-bench-interactive");
if (!existsSync(path.join(root, "backgroundTr", "tissues"))) {
  mkdirSync(path.join(root, "imagesTr"), { recursive: true });
  mkdirSync(path.join(root, "labelsTr"), { recursive: true });
  const p = path.join(values.data, "ms-lesjak2017", "patient07");
  symlinkSync(path.join(p, "T1.nii.gz"), path.join(root, "imagesTr", "p07_0000.nii.gz"));
  symlinkSync(path.join(p, "GOLD_STANDARD.nii.gz"), path.join(root, "labelsTr", "p07.nii.gz"));
  writeFileSync(
    path.join(root, "dataset.json"),
    JSON.stringify({ channel_names: { "0": "T1" }, labels: { background: 0, lesion: 1 }, file_ending: ".nii.gz" }),
  );
  await predictSource(openDataset(root), {
    source: "brainchop18",
    model: path.join(values.data, "brainchop", "onnx", "model30chan18cls.onnx"),
    card: "brainchop-18",
    replace: true,
  });
  await groupSource(openDataset(root), {
    source: "brainchop18",
    grouping: "brainchop",
    target: "tissues",
    replace: true,
  });
}
const dataset = openDataset(root);
const image = await readVolume(dataset.training[0].images[0]!);
const reference = await readVolume(dataset.training[0].backgrounds.tissues!);
const all = dataset.json.background_sources!.tissues.labels;
const wanted = values.structures.split(",");
const classes = Object.fromEntries(Object.entries(all).filter(([n]) => wanted.includes(n)));
const started = performance.now();
const r = simulateClicks(image.data, reference.data, image.shape as Vec3, classes, {
  clicks: Number(values.clicks),
  seed: 1,
  device: values.device,
});
const perClick = r.structures.map((s) => s.maxSecondsPerClick);
console.log(
  JSON.stringify({
    bench: "interactive",
    image: image.shape,
    device: values.device,
    threads: Number(values.threads),
    clicks: Number(values.clicks),
    structures: r.structures.map((s) => ({
      name: s.name,
      voxels: s.referenceVoxels,
      dice: s.dice,
      diceByClick: s.diceByClick,
      slowestClickSeconds: s.maxSecondsPerClick,
    })),
    medianOfSlowestClickSeconds: median(perClick),
    slowestClickSeconds: Math.max(...perClick),
    goalSeconds: 2,
    totalSeconds: (performance.now() - started) / 1000,
  }),
);
