// npm run bench -- ms [--quick | --preset small3d | --preset full] [--jobs 2 --threads 1] [--device cuda] [--seeds 1,2,3]
//   [--arms atlas,clicks] [--out DIR] [--json] [--epochs N] [--iterations N] [--patch AxBxC] [--features A,B,…]
//   [--tile-step 0.5] [--dice-over lesion|all]
// MS lesions (Lesjak 2017): patients 07 and 19, each trained on once and tested on once; FLAIR, T1
// and T2 in MNI space. BackSplit arms by background source:
//   atlas     — JHU white-matter tracts grouped into 4 families, then HarvardOxford cortex (same grid)
//   brainchop — the brainchop 18-class MeshNet on T1 via `labels predict`, grouped to 5 brain tissues
//   cluster   — a 3-class Gaussian mixture on T1 (CSF, grey, white matter), no labels used
//   clicks    — the atlas structures redrawn by 7 simulated clicks each on T1 (random walker), the
//               paper's interactive setting: how much of the atlas arm survives a few clicks
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { openDataset } from "../src/dataset/layout.js";
import { clusterSource } from "../src/labels/cluster.js";
import { groupSource } from "../src/labels/group.js";
import { interactiveSource } from "../src/labels/interactive.js";
import { predictSource } from "../src/labels/predict.js";
import { addMsAtlasSources } from "./lib/ms-atlas.js";
import { PRESETS, type Prepared, type RealBenchmark, SHARED, main } from "./lib/real-benchmark.js";

const PATIENTS = ["patient07", "patient19"];
const CHANNELS = ["FLAIR", "T1", "T2"];

export const MS: RealBenchmark = {
  name: "ms",
  presets: PRESETS,
  async prepare(root, log): Promise<Prepared> {
    const ms = path.join(SHARED, "ms-lesjak2017");
    for (const d of ["imagesTr", "labelsTr"]) mkdirSync(path.join(root, d), { recursive: true });
    for (const p of PATIENTS) {
      CHANNELS.forEach((ch, i) =>
        symlinkSync(path.join(ms, p, `${ch}.nii.gz`), path.join(root, "imagesTr", `${p}_000${i}.nii.gz`)),
      );
      symlinkSync(path.join(ms, p, "GOLD_STANDARD.nii.gz"), path.join(root, "labelsTr", `${p}.nii.gz`));
    }
    writeFileSync(
      path.join(root, "dataset.json"),
      `${JSON.stringify(
        {
          name: "MSLesjak2017",
          channel_names: Object.fromEntries(CHANNELS.map((c, i) => [String(i), c])),
          labels: { background: 0, lesion: 1 },
          numTraining: PATIENTS.length,
          file_ending: ".nii.gz",
        },
        null,
        2,
      )}\n`,
    );
    log("source 'atlas': JHU tracts (grouped) and HarvardOxford cortex, resampled through world coordinates");
    await addMsAtlasSources(root);
    log("source 'brainchop': the brainchop 18-class model on T1 (≈ 1–2 min per case), grouped");
    await predictSource(openDataset(root), {
      source: "brainchop18",
      model: path.join(SHARED, "brainchop", "onnx", "model30chan18cls.onnx"),
      card: "brainchop-18",
      channel: 1,
      workers: 1,
    });
    await groupSource(openDataset(root), { source: "brainchop18", grouping: "brainchop", target: "brainchop" });
    log("source 'cluster': 3-class Gaussian mixture on T1");
    await clusterSource(openDataset(root), { source: "cluster", channels: [1], k: 3, workers: 1 });
    log("source 'clicks': 7 simulated clicks per atlas structure on T1 (random walker)");
    const clickDice: string[] = [];
    for (const [reference, target] of [
      ["atlas_tracts", "clicks_tracts"],
      ["atlas_cortex", "clicks_cortex"],
    ]) {
      const r = await interactiveSource(openDataset(root), {
        source: target,
        reference,
        clicks: 7,
        channel: 1,
        seed: 1,
      });
      for (const [name, dice] of Object.entries(r.meanDice)) clickDice.push(`${name} ${dice.toFixed(3)}`);
    }
    log(`clicks: Dice against the atlas per structure (mean of the 2 cases): ${clickDice.join(", ")}`);
    return {
      arms: [
        { name: "atlas", sources: ["atlas_tracts", "atlas_cortex"] },
        { name: "brainchop", sources: ["brainchop"] },
        { name: "cluster", sources: ["cluster"] },
        { name: "clicks", sources: ["clicks_tracts", "clicks_cortex"] },
      ],
      splits: [
        { train: ["patient07"], val: ["patient19"] },
        { train: ["patient19"], val: ["patient07"] },
      ],
      smallMm3: 30,
      notes: [
        "Each patient is trained on once and tested on once (2 folds); lesion metrics pool both test patients.",
        "Atlas voxels outside the JHU tracts and the HarvardOxford cortex, and voxels outside the brain, form one generic background class.",
        `Clicks arm: 7 simulated clicks per atlas structure on T1; Dice against the atlas: ${clickDice.join(", ")}.`,
      ],
    };
  },
};

await main(MS);
