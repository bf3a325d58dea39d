// What `predict` refuses before and while it reads an input case: a case missing a channel the
// model needs (or holding more), and images with NaN or infinite voxels (they would turn the whole
// probability map into NaN and the mask into nothing).
import path from "node:path";
import type { Volume } from "../io/volume.js";

/** Problems of an input folder's cases ({case} → channel files, holes where a channel is missing). */
export function inputCaseProblems(
  cases: Map<string, (string | undefined)[]>,
  channels: number,
  folder: string,
): string[] {
  const problems: string[] = [];
  for (const [id, files] of cases) {
    const present = files.flatMap((f, c) => (f ? [c] : []));
    const missing = Array.from({ length: channels }, (_, c) => c).filter((c) => !files[c]);
    const extra = present.filter((c) => c >= channels);
    const ending = files.find((f) => f)?.slice(path.join(folder, `${id}_0000`).length) ?? ".nii.gz";
    for (const c of missing)
      problems.push(
        `${path.join(folder, `${id}_${String(c).padStart(4, "0")}${ending}`)}: missing (the model reads ${channels} channel(s) per case)`,
      );
    for (const c of extra)
      problems.push(`${files[c]}: channel ${c}, but the model reads ${channels} channel(s) (0–${channels - 1})`);
  }
  return problems;
}

/** Throws, naming the file, when an input image has NaN or infinite voxels. */
export function refuseNonFinite(volumes: Volume[], files: string[]): void {
  volumes.forEach((v, c) => {
    let bad = 0;
    for (let i = 0; i < v.data.length; i++) if (!Number.isFinite(v.data[i])) bad++;
    if (bad > 0)
      throw new Error(
        `${files[c]}: ${bad} voxels are NaN or infinite; prediction refused (they would make the whole probability map NaN). Fix the image or replace them (e.g. with 0) first`,
      );
  });
}
