// BraTS labels (OTMultiClass, the BraTS 2013 convention) split for the enhancing-tumour benchmark.

/** The four cases of ../shared/data/brats2015-subset and the two channels the benchmarks use. */
export const BRATS_CASES = [
  "brats_2013_pat0003_1",
  "brats_2013_pat0004_1",
  "brats_2013_pat0005_1",
  "brats_2013_pat0006_1",
];
export const BRATS_CHANNELS = ["Flair_subtrMeanDivStd", "T1c_subtrMeanDivStd"];

export const BRATS_LABELS = { necrosis: 1, oedema: 2, non_enhancing: 3, enhancing: 4 } as const;

/** The labels of the tumour sub-regions in the background sources below. */
const TUMOUR_LABELS = { necrosis: 1, oedema: 2, non_enhancing: 3 };
/** dataset.json's entries (`background_sources`) for the two sources `splitBratsLabels` makes. */
export const BRATS_SOURCES = {
  subregions: {
    labels: { ...TUMOUR_LABELS, brain: 4 },
    description: "BraTS tumour sub-regions other than the enhancing tumour, and the rest of the brain",
  },
  tumour: {
    labels: TUMOUR_LABELS,
    description: "BraTS tumour sub-regions other than the enhancing tumour only (the brain is not labelled)",
  },
};

/**
 * The lesion (enhancing tumour) and the two background sources of one case: `subregions` (necrosis 1,
 * oedema 2, non-enhancing tumour 3, the rest of the brain 4; outside the brain 0) and `tumour` (the same
 * sub-regions only; the brain and the outside 0, unassigned).
 */
export function splitBratsLabels(
  classes: ArrayLike<number>,
  brain: ArrayLike<number>,
): { lesion: Uint8Array; subregions: Uint8Array; tumour: Uint8Array } {
  const n = classes.length;
  const lesion = new Uint8Array(n);
  const subregions = new Uint8Array(n);
  const tumour = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const v = classes[i];
    lesion[i] = v === BRATS_LABELS.enhancing ? 1 : 0;
    const part =
      v === BRATS_LABELS.necrosis ? 1 : v === BRATS_LABELS.oedema ? 2 : v === BRATS_LABELS.non_enhancing ? 3 : 0;
    tumour[i] = part;
    subregions[i] = part || (brain[i] > 0 && v !== BRATS_LABELS.enhancing ? 4 : 0);
  }
  return { lesion, subregions, tumour };
}
