// Gaussian-mixture clustering: recovery on a known mixture, BIC model choice, the MS T1 tissue order, CT bands.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { openDataset } from "../../src/dataset/layout.js";
import { readVolume } from "../../src/io/index.js";
import { clusterSource, ctBands, fitGmm, fitGmmBic } from "../../src/labels/cluster.js";
import { normals, prng } from "../helpers/data.js";
import { SHARED_DATA } from "../helpers/python.js";

function mixture(n: number): number[] {
  // 20 % N(0, 1), 50 % N(6, 0.5²), 30 % N(10, 1.5²)
  const z = normals(n, 3);
  const u = prng(4);
  return z.map((v) => {
    const r = u();
    return r < 0.2 ? v : r < 0.7 ? 6 + 0.5 * v : 10 + 1.5 * v;
  });
}

test("EM recovers the means, spreads and weights of a known mixture; BIC picks k = 3", () => {
  const x = mixture(6000);
  const fit = fitGmm([x], 3);
  const expected = [
    [0, 1, 0.2],
    [6, 0.5, 0.5],
    [10, 1.5, 0.3],
  ];
  fit.means.forEach((m, j) => {
    assert.ok(Math.abs(m[0] - expected[j][0]) < 0.1, `mean ${j}: ${m[0]}`);
    assert.ok(
      Math.abs(Math.sqrt(fit.variances[j][0]) - expected[j][1]) < 0.1,
      `sd ${j}: ${Math.sqrt(fit.variances[j][0])}`,
    );
    assert.ok(Math.abs(fit.weights[j] - expected[j][2]) < 0.03, `weight ${j}: ${fit.weights[j]}`);
  });
  assert.equal(fitGmmBic([x], 5).k, 3);
});

test("CT bands follow the stated Hounsfield limits", () => {
  assert.deepEqual(
    Array.from(ctBands([-1000, -501, -300, -100, -30, -29, 40, 150, 151, 1200])),
    [1, 1, 0, 2, 2, 3, 3, 3, 4, 4],
  );
});

const t1 = path.join(SHARED_DATA, "ms-lesjak2017", "patient07", "T1.nii.gz");
test(
  "clustering an MS T1 inside the brain mask gives CSF < grey < white matter by mean T1",
  { skip: existsSync(t1) ? false : "no shared data" },
  async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), "bs-cluster-"));
    mkdirSync(path.join(root, "imagesTr"));
    symlinkSync(t1, path.join(root, "imagesTr", "p07_0000.nii.gz"));
    writeFileSync(
      path.join(root, "dataset.json"),
      JSON.stringify({ channel_names: { "0": "T1" }, labels: { background: 0, lesion: 1 }, file_ending: ".nii.gz" }),
    );
    const { classes, cases } = await clusterSource(openDataset(root), { source: "gmm", k: 3, workers: 1 });
    assert.deepEqual(classes, { csf: 1, grey_matter: 2, white_matter: 3 });
    const means = cases[0].means.map((m) => m[0]);
    assert.ok(means[0] < means[1] && means[1] < means[2], `means ${means}`);
    // Plausible tissue fractions of a brain: each class between 10 % and 60 % of the mask.
    for (const f of cases[0].fractions) assert.ok(f > 0.1 && f < 0.6, `fractions ${cases[0].fractions}`);
    // White matter lies under the JHU white-matter tract atlas far more often than CSF does.
    const map = await readVolume(path.join(root, "backgroundTr", "gmm", "p07.nii.gz"));
    const jhu = await readVolume(path.join(SHARED_DATA, "atlases-mni", "JHU-WhiteMatter-labels-1mm.nii.gz"));
    const [nx] = map.shape;
    const inTracts = [0, 0, 0, 0];
    const total = [0, 0, 0, 0];
    for (let p = 0; p < map.data.length; p++) {
      const i = p % nx;
      const tract = jhu.data[p - i + (nx - 1 - i)] > 0; // JHU's x axis is flipped against the MS grid
      total[map.data[p]]++;
      if (tract) inTracts[map.data[p]]++;
    }
    const share = inTracts.map((t, c) => t / Math.max(total[c], 1));
    assert.ok(
      share[3] > 0.25 && share[3] > 5 * share[1],
      `share of each class inside the tracts: ${share.map((s) => s.toFixed(3))}`,
    );
  },
);
