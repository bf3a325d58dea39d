// npm run bench -- brats [--quick | --preset full] [--jobs 2 --threads 1] [--device cuda] [--seeds 1,2,3] [--out DIR] [--json]
//   [--epochs N] [--iterations N] [--patch AxBxC] [--features A,B,…] [--tile-step 0.5] [--dice-over lesion|all]
// Reads $BACKSPLIT_SHARED_DATA/brats2015-subset (default ../shared/data; scripts/gpu-stage.sh writes a
// cropped int16 copy under gpu-data/data for the GPU check).
// BraTS subset (4 gliomas, FLAIR and T1c). Target: necrosis, the smallest tumour sub-region in 3 of
// the 4 cases and one defined by its context (inside the enhancing rim), like the paper's kidney
// cysts inside the kidney. Background classes: oedema, non-enhancing tumour, enhancing tumour and the
// rest of the brain (from the brain mask) — the paper's "kidney and tumour as auxiliaries" setting.
// Two folds of 2 training / 2 test cases, so each case is tested once.
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { readVolume, writeVolume } from "../src/io/read.js";
import { BRATS_CASES, BRATS_CHANNELS } from "./lib/brats-labels.js";
import { PRESETS, type Prepared, type RealBenchmark, SHARED, main } from "./lib/real-benchmark.js";

/** OTMultiClass values → background-source classes (necrosis, value 1, is the lesion). */
const SUBREGIONS = { oedema: 2, non_enhancing: 3, enhancing: 4 } as const;

export const BRATS: RealBenchmark = {
  name: "brats",
  presets: PRESETS,
  async prepare(root, log): Promise<Prepared> {
    const brats = path.join(SHARED, "brats2015-subset");
    for (const d of ["imagesTr", "labelsTr", "backgroundTr/subregions"])
      mkdirSync(path.join(root, d), { recursive: true });
    for (const id of BRATS_CASES) {
      log(`case ${id}: necrosis as the lesion, the other sub-regions and the brain as background classes`);
      BRATS_CHANNELS.forEach((ch, i) =>
        symlinkSync(path.join(brats, id, `${ch}.nii.gz`), path.join(root, "imagesTr", `${id}_000${i}.nii.gz`)),
      );
      const classes = await readVolume(path.join(brats, id, "OTMultiClass.nii.gz"));
      const brain = await readVolume(path.join(brats, id, "brainmask.nii.gz"));
      const lesion = new Uint8Array(classes.voxelCount);
      const background = new Uint8Array(classes.voxelCount);
      for (let i = 0; i < lesion.length; i++) {
        const v = classes.data[i];
        lesion[i] = v === 1 ? 1 : 0;
        background[i] =
          v === SUBREGIONS.oedema
            ? 1
            : v === SUBREGIONS.non_enhancing
              ? 2
              : v === SUBREGIONS.enhancing
                ? 3
                : brain.data[i] > 0
                  ? 4
                  : 0;
      }
      await writeVolume(path.join(root, "labelsTr", `${id}.nii.gz`), classes.withData(lesion));
      await writeVolume(path.join(root, "backgroundTr", "subregions", `${id}.nii.gz`), classes.withData(background));
    }
    writeFileSync(
      path.join(root, "dataset.json"),
      `${JSON.stringify(
        {
          name: "BraTSNecrosis",
          channel_names: { "0": "FLAIR", "1": "T1c" },
          labels: { background: 0, necrosis: 1 },
          numTraining: BRATS_CASES.length,
          file_ending: ".nii.gz",
          background_sources: {
            subregions: {
              labels: { oedema: 1, non_enhancing: 2, enhancing: 3, brain: 4 },
              description: "BraTS tumour sub-regions other than necrosis, and the brain mask",
            },
          },
        },
        null,
        2,
      )}\n`,
    );
    return {
      arms: [{ name: "subregions", sources: ["subregions"] }],
      splits: [
        { train: BRATS_CASES.slice(0, 2), val: BRATS_CASES.slice(2) },
        { train: BRATS_CASES.slice(2), val: BRATS_CASES.slice(0, 2) },
      ],
      smallMm3: 100,
      notes: [
        "Necrosis labels are fragmented (5–129 components per case, most under 100 mm³), so lesion-wise counts are dominated by small fragments; voxel Dice is the steadier number here.",
        "The images are z-scored inside the brain by the data's provider; nnU-Net's z-score normalisation is applied on top.",
      ],
    };
  },
};

await main(BRATS);
