// npm run bench -- brats-et [--quick | --preset full | --preset small3d] [--jobs 2 --threads 1] [--device cuda] [--seeds 1,2,3]
//   [--arms subregions,cluster] [--out DIR] [--json] [--epochs N] [--iterations N] [--patch AxBxC] [--features A,B,…]
//   [--tile-step 0.5] [--dice-over lesion|all]
// The KiTS-cyst analogue on the BraTS subset: the target is the enhancing tumour (BraTS label 4), a
// small structure whose look-alikes (necrosis inside its rim, oedema and non-enhancing tumour around it)
// become background classes, as kidney and tumour do for the paper's cysts. 3D, both folds of 2 training
// / 2 test cases, one budget for every arm. Arms:
//   binary               enhancing tumour against everything else
//   subregions           necrosis, oedema, non-enhancing tumour and the rest of the brain as classes; outside
//                        the brain is the generic background
//   subregions_marginal  only the tumour sub-regions labelled; the brain and the outside are unassigned and
//                        trained with the marginal loss (--unassigned marginal): the few-clicks setting
//   cluster              a 4-class Gaussian mixture on FLAIR and T1c inside the brain: no labels used
// Resumable: run it again with the same --out and finished runs are read back, not trained again.
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { openDataset } from "../src/dataset/layout.js";
import { readVolume, writeVolume } from "../src/io/read.js";
import { clusterSource } from "../src/labels/cluster.js";
import { BRATS_CASES, BRATS_CHANNELS, BRATS_SOURCES, splitBratsLabels } from "./lib/brats-labels.js";
import { PRESETS, type Prepared, type Preset, type RealBenchmark, SHARED, main } from "./lib/real-benchmark.js";

export const BRATS_ET_PRESETS: Record<string, Preset> = {
  // Sized for 2 CPU cores: 24 trainings (4 arms × 2 folds × 3 seeds); the small3d preset of the other
  // real benchmarks (docs/results.md has the measured time).
  quick: PRESETS.small3d,
  small3d: PRESETS.small3d,
  // A GPU: the other real benchmarks' full preset (nnU-Net-sized 3D network and budget).
  full: { ...PRESETS.full, validationIterations: 10 },
};

export const BRATS_ET: RealBenchmark = {
  name: "brats-et",
  presets: BRATS_ET_PRESETS,
  async prepare(root, log): Promise<Prepared> {
    const brats = path.join(SHARED, "brats2015-subset");
    for (const d of ["imagesTr", "labelsTr", "backgroundTr/subregions", "backgroundTr/tumour"])
      mkdirSync(path.join(root, d), { recursive: true });
    for (const id of BRATS_CASES) {
      log(`case ${id}: enhancing tumour as the lesion; necrosis, oedema, non-enhancing tumour and brain as sources`);
      BRATS_CHANNELS.forEach((ch, i) =>
        symlinkSync(path.join(brats, id, `${ch}.nii.gz`), path.join(root, "imagesTr", `${id}_000${i}.nii.gz`)),
      );
      const classes = await readVolume(path.join(brats, id, "OTMultiClass.nii.gz"));
      const brain = await readVolume(path.join(brats, id, "brainmask.nii.gz"));
      const split = splitBratsLabels(classes.data, brain.data);
      await writeVolume(path.join(root, "labelsTr", `${id}.nii.gz`), classes.withData(split.lesion));
      await writeVolume(
        path.join(root, "backgroundTr", "subregions", `${id}.nii.gz`),
        classes.withData(split.subregions),
      );
      await writeVolume(path.join(root, "backgroundTr", "tumour", `${id}.nii.gz`), classes.withData(split.tumour));
    }
    writeFileSync(
      path.join(root, "dataset.json"),
      `${JSON.stringify(
        {
          name: "BraTSEnhancingTumour",
          channel_names: { "0": "FLAIR", "1": "T1c" },
          labels: { background: 0, enhancing_tumour: 1 },
          numTraining: BRATS_CASES.length,
          file_ending: ".nii.gz",
          background_sources: BRATS_SOURCES,
        },
        null,
        2,
      )}\n`,
    );
    log("source 'cluster': 4-class Gaussian mixture on FLAIR and T1c inside the brain");
    await clusterSource(openDataset(root), { source: "cluster", channels: [0, 1], k: 4, workers: 1 });
    return {
      arms: [
        { name: "subregions", sources: ["subregions"] },
        { name: "subregions_marginal", sources: ["tumour"], unassigned: "marginal" },
        { name: "cluster", sources: ["cluster"] },
      ],
      splits: [
        { train: BRATS_CASES.slice(0, 2), val: BRATS_CASES.slice(2) },
        { train: BRATS_CASES.slice(2), val: BRATS_CASES.slice(0, 2) },
      ],
      smallMm3: 100,
      notes: [
        "Target: the enhancing tumour (BraTS label 4). Each case is tested once, by the model of the fold that did not train on it; lesion metrics pool the 4 test cases.",
        "The enhancing tumour is a rim, often cut into several components; lesion counts include its fragments.",
        "subregions_marginal: voxels outside the tumour sub-regions carry no class and are trained with the marginal loss (the lesion channel against the sum of the others).",
        "cluster: a 4-class Gaussian mixture on FLAIR and T1c inside the brain (non-zero FLAIR), no labels used.",
        "The images are z-scored inside the brain by the data's provider; nnU-Net's z-score normalisation is applied on top.",
      ],
    };
  },
};

await main(BRATS_ET);
