// The MS benches' atlas background sources: JHU white-matter tracts grouped into 4 families
// ("atlas_tracts") and the HarvardOxford cortex as one class ("atlas_cortex"), both resampled from
// MNI space onto each case through world coordinates. Used by `bench -- ms` (its atlas arm) and by
// `bench -- twin-train --mode backsplit`.
import { writeFileSync } from "node:fs";
import path from "node:path";
import { openDataset } from "../../src/dataset/layout.js";
import { groupSource } from "../../src/labels/group.js";
import { importSource } from "../../src/labels/import.js";
import { SHARED } from "./real-benchmark.js";

export const MS_ATLAS_SOURCES = ["atlas_tracts", "atlas_cortex"];

/** Imports and groups the two atlas sources into the dataset at `root` (its dataset.json must exist). */
export async function addMsAtlasSources(root: string): Promise<void> {
  const atlases = path.join(SHARED, "atlases-mni");
  await importSource(openDataset(root), {
    source: "jhu",
    from: path.join(atlases, "JHU-WhiteMatter-labels-1mm.nii.gz"),
    names: path.join(atlases, "JHU-WhiteMatter-labels-1mm.nii.txt"),
    workers: 1,
  });
  await groupSource(openDataset(root), { source: "jhu", grouping: "jhu", target: "atlas_tracts" });
  await importSource(openDataset(root), {
    source: "harvard_oxford",
    from: path.join(atlases, "HarvardOxford-cort-maxprob-thr0-1mm.nii.gz"),
    workers: 1,
  });
  const cortex = path.join(root, "cortex-grouping.json");
  writeFileSync(cortex, JSON.stringify({ name: "cortex", groups: { cortex: ["*"] } }));
  await groupSource(openDataset(root), { source: "harvard_oxford", grouping: cortex, target: "atlas_cortex" });
}
