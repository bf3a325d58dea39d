// A trained backsplit run as a background source: its background classes (everything but the
// lesion classes) predicted on every case, on the case's own grid.
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Dataset } from "../dataset/layout.js";
import { resolveDevice, setThreads } from "../engine/runtime.js";
import { readVolume } from "../io/read.js";
import { Volume } from "../io/volume.js";
import { loadRun, predictImages } from "../predict/predict.js";
import { prepareSource, registerSource, writeSourceMap } from "./source.js";

export async function sourceFromRun(
  dataset: Dataset,
  o: { source: string; run: string; device?: string; replace?: boolean; onCase?: (id: string) => void },
): Promise<{ classes: Record<string, number> }> {
  setThreads();
  const device = resolveDevice(o.device ?? "auto");
  const model = loadRun(o.run, device);
  const background = Object.fromEntries(
    Object.entries(model.classes).filter(
      ([name, v]) => name !== "background" && name !== "ignore" && !model.lesionValues.includes(v),
    ),
  );
  if (Object.keys(background).length === 0)
    throw new Error(`${o.run}: a binary run has no background classes to offer; use a BackSplit run`);
  prepareSource(dataset, o.source, o.replace ?? false);
  const tmp = mkdtempSync(path.join(os.tmpdir(), "bs-from-run-"));
  try {
    for (const c of dataset.training) {
      const images = c.images.filter((f): f is string => f !== null);
      await predictImages([model], images, path.join(tmp, c.id), {
        collapse: "argmax",
        threshold: 0.5,
        mirror: false,
        device,
        saveProbabilities: false,
        saveClasses: true,
      });
      const classes = await readVolume(path.join(tmp, `${c.id}_classes.nii.gz`));
      // Lesion voxels are not a background class: unassigned.
      const map = Uint8Array.from(classes.data, (v) => (model.lesionValues.includes(v) ? 0 : v));
      await writeSourceMap(dataset, o.source, c.id, new Volume(map, classes.geometry));
      o.onCase?.(c.id);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  model.net.dispose();
  registerSource(dataset, o.source, background, `predicted by the backsplit run ${path.resolve(o.run)}`);
  return { classes: background };
}
