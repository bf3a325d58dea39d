// Built-in groupings of many classes into a few background classes. Patterns are matched against
// class names, case-insensitively, with * as a wildcard; the first group that matches wins.

export interface Grouping {
  name: string;
  description: string;
  /** Group name → class-name patterns. Groups become values 1, 2, … in this order. */
  groups: Record<string, string[]>;
}

/** FreeSurfer aseg/aparc (and brainchop's FreeSurfer-style names) → five brain tissue groups. */
export const FREESURFER_GROUPING: Grouping = {
  name: "freesurfer",
  description: "FreeSurfer structures → white matter, cortex, deep grey, ventricles/CSF, cerebellum/brainstem",
  groups: {
    white_matter: ["*Cerebral-White-Matter", "*WM-hypointensities", "CC_*", "Optic-Chiasm"],
    cortex: ["*Cerebral-Cortex", "ctx-*", "ctx_*", "*Hippocampus", "*Amygdala"],
    deep_grey: ["*Thalamus*", "*Caudate", "*Putamen", "*Pallidum", "*Accumbens-area", "*VentralDC"],
    ventricles_csf: [
      "*Lateral-Ventricle",
      "*Inf-Lat-Vent",
      "3rd-Ventricle",
      "4th-Ventricle",
      "5th-Ventricle",
      "CSF",
      "*choroid-plexus",
      "*vessel",
    ],
    cerebellum_brainstem: ["*Cerebellum-White-Matter", "*Cerebellum-Cortex", "Brain-Stem"],
  },
};

/** TotalSegmentator (task total / total_mr) classes → organ groups. */
export const TOTALSEGMENTATOR_GROUPING: Grouping = {
  name: "totalsegmentator",
  description: "TotalSegmentator classes → organ groups",
  groups: {
    liver: ["liver"],
    spleen: ["spleen"],
    kidney: ["kidney_*", "kidney"],
    pancreas: ["pancreas"],
    stomach: ["stomach"],
    bowel: ["small_bowel", "duodenum", "colon", "esophagus"],
    gallbladder: ["gallbladder"],
    bladder_prostate: ["urinary_bladder", "prostate"],
    adrenal: ["adrenal_gland*"],
    lung: ["lung*"],
    airway: ["trachea"],
    heart: ["heart*", "atrial_appendage*"],
    vessels: [
      "aorta",
      "*vena_cava*",
      "portal_vein*",
      "iliac_*",
      "pulmonary_*",
      "brachiocephalic_*",
      "subclavian_*",
      "common_carotid_*",
    ],
    bone: [
      "vertebrae*",
      "rib_*",
      "sacrum",
      "hip*",
      "femur*",
      "humerus*",
      "scapula*",
      "clavicula*",
      "sternum",
      "costal_cartilages",
      "skull",
      "spine",
    ],
    muscle: ["gluteus_*", "iliopsoas*", "autochthon*", "*muscle*"],
    nervous: ["brain", "spinal_cord"],
    thyroid: ["thyroid*"],
  },
};

/** JHU ICBM-DTI-81 white-matter tract labels (FSL) → tract families. */
export const JHU_GROUPING: Grouping = {
  name: "jhu",
  description: "JHU white-matter tracts → commissural, projection, association, brainstem/cerebellar tracts",
  groups: {
    commissural: ["*corpus_callosum*", "Tapetum*"],
    projection: [
      "*internal_capsule*",
      "*corona_radiata*",
      "Corticospinal*",
      "Cerebral_peduncle*",
      "*thalamic_radiation*",
      "Medial_lemniscus*",
    ],
    association: [
      "*longitudinal_fasciculus*",
      "*fronto-occipital*",
      "Uncinate*",
      "Cingulum*",
      "Sagittal_stratum*",
      "External_capsule*",
      "Fornix*",
    ],
    brainstem_cerebellar: ["*cerebellar_peduncle*", "Pontine*"],
  },
};

export const BUILTIN_GROUPINGS: Record<string, Grouping> = {
  freesurfer: FREESURFER_GROUPING,
  brainchop: FREESURFER_GROUPING,
  totalsegmentator: TOTALSEGMENTATOR_GROUPING,
  jhu: JHU_GROUPING,
};

function matches(pattern: string, name: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`, "i");
  return re.test(name);
}

/** Group (1-based value) of each class name, or 0 when no pattern matches. */
export function groupOf(grouping: Grouping, name: string): number {
  const groups = Object.values(grouping.groups);
  for (let g = 0; g < groups.length; g++) if (groups[g].some((p) => matches(p, name))) return g + 1;
  return 0;
}
