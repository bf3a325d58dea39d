// DICOM Segmentation objects (SEG) for PACS and OHIF: label maps on any grid → a binary SEG that references
// a source DICOM series (its study, series and instance UIDs and its frame of reference). The encoding is
// dcmjs's (derivations.Segmentation + datasetToDict), not ours: we only read the series' headers, sort
// its slices, resample each label map onto every slice (nearest neighbour, through world coordinates), and
// pass dcmjs one 2-D frame per slice and segment.
//
// Frames are written only where a segment has voxels (as highdicom and dcmqi do); a SEG with no voxel at
// all carries the first segment's empty frames on every slice, so that it stays a valid, displayable object.
import { readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { writeFileAtomicSync } from "../util/atomic.js";
import { ImageFormatError } from "./errors.js";
import { resampleNearestToGrid } from "./grid.js";
import type { Geometry, Mat3, Vec3, Volume } from "./volume.js";

/** A coded concept (DICOM code sequence item). */
export interface Code {
  CodeValue: string;
  CodingSchemeDesignator: string;
  CodeMeaning: string;
}

/** SNOMED CT codes for the segments we write (those OHIF and Slicer show by name). */
export const CODES = {
  morphologicallyAltered: {
    CodeValue: "49755003",
    CodingSchemeDesignator: "SCT",
    CodeMeaning: "Morphologically Altered Structure",
  },
  lesion: { CodeValue: "52988006", CodingSchemeDesignator: "SCT", CodeMeaning: "Lesion" },
  tissue: { CodeValue: "85756007", CodingSchemeDesignator: "SCT", CodeMeaning: "Tissue" },
} satisfies Record<string, Code>;

/** One segment: the voxels of `map` equal to `value`. */
export interface SegmentInput {
  map: Volume;
  value: number;
  /** SegmentLabel (at most 64 characters). */
  label: string;
  /** "lesion" (default): Morphologically Altered Structure / Lesion; "tissue": Tissue / Tissue. */
  kind?: "lesion" | "tissue";
  description?: string;
  /** sRGB, 0–255. */
  color?: [number, number, number];
}

export interface DicomSlice {
  file: string;
  sopClassUID: string;
  sopInstanceUID: string;
  /** ImagePositionPatient (LPS mm). */
  position: Vec3;
}

/** A single-frame DICOM series, its slices sorted along the slice normal (as ITK sorts them). */
export interface DicomSeriesReference {
  folder: string;
  seriesInstanceUID: string;
  studyInstanceUID: string;
  frameOfReferenceUID: string;
  rows: number;
  columns: number;
  /** PixelSpacing: [between rows, between columns] (mm). */
  pixelSpacing: [number, number];
  /** ImageOrientationPatient: row direction, then column direction. */
  orientation: number[];
  slices: DicomSlice[];
  /** The series as one grid (LPS): x along rows, y along columns, z along the slices. */
  geometry: Geometry;
  /** The first slice's dataset (naturalized, without pixel data): patient and study attributes. */
  header: Record<string, unknown>;
}

export interface DicomSegOptions {
  seriesDescription?: string;
  seriesNumber?: number;
  /** SegmentAlgorithmName. */
  algorithmName?: string;
  softwareVersion?: string;
  /** Fixed UIDs (tests); new ones by default. */
  seriesInstanceUID?: string;
  sopInstanceUID?: string;
}

type Dcmjs = typeof import("dcmjs");
let dcmjsModule: Promise<Dcmjs> | null = null;

/** dcmjs, loaded on first use, its console logging limited to errors. */
async function dcmjs(): Promise<Dcmjs> {
  dcmjsModule ??= import("dcmjs").then((m) => {
    m.log.setLevel("error");
    return m;
  });
  return dcmjsModule;
}

const cross = (a: readonly number[], b: readonly number[]): Vec3 => [
  a[1] * b[2] - a[2] * b[1],
  a[2] * b[0] - a[0] * b[2],
  a[0] * b[1] - a[1] * b[0],
];
const dot = (a: readonly number[], b: readonly number[]) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const numbers = (v: unknown): number[] => (Array.isArray(v) ? v : v === undefined ? [] : [v]).map(Number);
const first = (v: unknown): unknown => (Array.isArray(v) ? v[0] : v);

/**
 * Reads the headers of a DICOM series folder (files that are not DICOM images are skipped) with dcmjs.
 * The folder must hold one single-frame series of parallel slices.
 */
export async function readDicomSeriesReference(folder: string): Promise<DicomSeriesReference> {
  const { data } = await dcmjs();
  if (!statSync(folder).isDirectory()) throw new ImageFormatError(`${folder}: not a DICOM series folder`);
  const found: { file: string; ds: Record<string, unknown> }[] = [];
  for (const name of readdirSync(folder).sort()) {
    const file = path.join(folder, name);
    if (name.startsWith(".") || !statSync(file).isFile()) continue;
    const bytes = readFileSync(file);
    if (bytes.length < 132 || bytes.toString("latin1", 128, 132) !== "DICM") continue;
    let ds: Record<string, unknown>;
    try {
      const dict = data.DicomMessage.readFile(
        bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
        { ignoreErrors: true, untilTag: "7FE00010", includeUntilTagValue: false },
      );
      ds = data.DicomMetaDictionary.naturalizeDataset(dict.dict);
    } catch (error) {
      throw new ImageFormatError(`${file}: not a readable DICOM file (${(error as Error).message})`);
    }
    if (ds.ImagePositionPatient === undefined || ds.ImageOrientationPatient === undefined) continue;
    found.push({ file, ds });
  }
  if (found.length === 0) throw new ImageFormatError(`${folder}: no DICOM images with a position and orientation`);
  const series = new Set(found.map((f) => String(f.ds.SeriesInstanceUID)));
  if (series.size > 1)
    throw new ImageFormatError(
      `${folder}: ${series.size} series (${[...series].join(", ")}); a reference folder must hold one series`,
    );
  const header = found[0].ds;
  if (Number(header.NumberOfFrames ?? 1) > 1)
    throw new ImageFormatError(
      `${folder}: multi-frame images are not supported as a reference yet (one file per slice)`,
    );
  const orientation = numbers(header.ImageOrientationPatient);
  const pixelSpacing = numbers(header.PixelSpacing);
  const rows = Number(header.Rows);
  const columns = Number(header.Columns);
  if (orientation.length !== 6 || pixelSpacing.length !== 2 || !(rows > 0) || !(columns > 0))
    throw new ImageFormatError(`${found[0].file}: ImageOrientationPatient, PixelSpacing, Rows or Columns is missing`);
  for (const { file, ds } of found) {
    const o = numbers(ds.ImageOrientationPatient);
    if (
      o.some((v, i) => Math.abs(v - orientation[i]) > 1e-4) ||
      Number(ds.Rows) !== rows ||
      Number(ds.Columns) !== columns
    )
      throw new ImageFormatError(
        `${file}: orientation or size differs from the series' first slice (${found[0].file})`,
      );
  }
  const normal = cross(orientation.slice(0, 3), orientation.slice(3, 6));
  const slices = found
    .map(({ file, ds }) => ({
      file,
      sopClassUID: String(ds.SOPClassUID),
      sopInstanceUID: String(ds.SOPInstanceUID),
      position: numbers(ds.ImagePositionPatient) as Vec3,
    }))
    .sort((a, b) => dot(a.position, normal) - dot(b.position, normal));
  for (let k = 1; k < slices.length; k++)
    if (Math.abs(dot(slices[k].position, normal) - dot(slices[k - 1].position, normal)) < 1e-4)
      throw new ImageFormatError(`${slices[k].file}: same slice position as ${slices[k - 1].file}`);
  const extent = slices.length > 1 ? dot(slices.at(-1)!.position, normal) - dot(slices[0].position, normal) : 0;
  const step = slices.length > 1 ? extent / (slices.length - 1) : Number(header.SliceThickness ?? 1) || 1;
  const direction = [0, 1, 2].flatMap((r) => [orientation[r], orientation[3 + r], normal[r]]) as Mat3;
  return {
    folder,
    seriesInstanceUID: String(header.SeriesInstanceUID),
    studyInstanceUID: String(header.StudyInstanceUID),
    frameOfReferenceUID: String(header.FrameOfReferenceUID ?? ""),
    rows,
    columns,
    pixelSpacing: [pixelSpacing[0], pixelSpacing[1]],
    orientation,
    slices,
    geometry: {
      shape: [columns, rows, slices.length],
      spacing: [pixelSpacing[1], pixelSpacing[0], step],
      origin: [...slices[0].position],
      direction,
    },
    header,
  };
}

/** The grid of one slice: its own position, the series' in-plane axes. */
function sliceGeometry(ref: DicomSeriesReference, slice: DicomSlice): Geometry {
  return { ...ref.geometry, shape: [ref.columns, ref.rows, 1], origin: [...slice.position] };
}

const PALETTE: [number, number, number][] = [
  [230, 25, 75],
  [60, 180, 75],
  [0, 130, 200],
  [245, 130, 48],
  [145, 30, 180],
  [70, 240, 240],
  [240, 50, 230],
  [210, 245, 60],
  [250, 190, 212],
  [0, 128, 128],
];

/** Whether a map's grid and the series' grid share any volume (corners of the series in the map's voxel space). */
function overlaps(map: Volume, series: Geometry): boolean {
  const [nx, ny, nz] = series.shape;
  const lo = [Infinity, Infinity, Infinity];
  const hi = [-Infinity, -Infinity, -Infinity];
  for (const corner of [0, 1, 2, 3, 4, 5, 6, 7]) {
    const ijk = [corner & 1 ? nx - 0.5 : -0.5, corner & 2 ? ny - 0.5 : -0.5, corner & 4 ? nz - 0.5 : -0.5];
    const world = [0, 1, 2].map(
      (r) =>
        series.origin[r] +
        [0, 1, 2].reduce((sum, c) => sum + series.direction[3 * r + c] * series.spacing[c] * ijk[c], 0),
    );
    const v = map.worldToVoxel(world);
    for (let a = 0; a < 3; a++) {
      lo[a] = Math.min(lo[a], v[a]);
      hi[a] = Math.max(hi[a], v[a]);
    }
  }
  return [0, 1, 2].every((a) => hi[a] > -0.5 && lo[a] < map.shape[a] - 0.5);
}

/**
 * Encodes segments (label maps on any grid in the series' frame of reference) as a DICOM SEG that
 * references `ref`. Each map is resampled onto each slice by nearest neighbour through world coordinates,
 * so a map on the series' own grid (as read by readVolume from the same folder) is copied exactly.
 */
export async function encodeDicomSeg(
  ref: DicomSeriesReference,
  segments: readonly SegmentInput[],
  options: DicomSegOptions = {},
): Promise<Uint8Array> {
  if (segments.length === 0) throw new Error("a DICOM SEG needs at least one segment");
  const { data, derivations } = await dcmjs();
  const sliceSize = ref.rows * ref.columns;
  // Each distinct map, resampled once per slice.
  const resampled = new Map<Volume, Volume[]>();
  for (const s of segments) {
    if (resampled.has(s.map)) continue;
    if (!overlaps(s.map, ref.geometry))
      throw new ImageFormatError(
        `${ref.folder}: the series does not overlap segment "${s.label}"'s image in space (is it the series the image came from?)`,
      );
    resampled.set(
      s.map,
      ref.slices.map((slice) => resampleNearestToGrid(s.map, sliceGeometry(ref, slice))),
    );
  }
  const frames = segments.map((s) => {
    const planes = resampled.get(s.map)!;
    const used: { frame: number; pixels: Uint8Array }[] = [];
    planes.forEach((plane, k) => {
      let any = false;
      const pixels = new Uint8Array(sliceSize);
      for (let i = 0; i < sliceSize; i++)
        if (plane.data[i] === s.value) {
          pixels[i] = 1;
          any = true;
        }
      if (any) used.push({ frame: k + 1, pixels });
    });
    return used;
  });
  if (frames.every((f) => f.length === 0))
    frames[0] = ref.slices.map((_, k) => ({ frame: k + 1, pixels: new Uint8Array(sliceSize) }));

  // The source series as the normalized multi-frame dataset dcmjs derives a SEG from (no pixel data).
  const h = ref.header;
  const copy = (keys: string[]) => Object.fromEntries(keys.filter((k) => h[k] !== undefined).map((k) => [k, h[k]]));
  const source = {
    _meta: { TransferSyntaxUID: { vr: "UI", Value: ["1.2.840.10008.1.2.1"] } },
    _vrMap: { PixelData: "OB" },
    ...copy([
      "PatientName",
      "PatientID",
      "PatientBirthDate",
      "PatientSex",
      "PatientAge",
      "StudyDate",
      "StudyTime",
      "StudyID",
      "AccessionNumber",
      "ReferringPhysicianName",
      "PositionReferenceIndicator",
      "BodyPartExamined",
    ]),
    SOPClassUID: ref.slices[0].sopClassUID,
    SOPInstanceUID: ref.slices[0].sopInstanceUID,
    StudyInstanceUID: ref.studyInstanceUID,
    SeriesInstanceUID: ref.seriesInstanceUID,
    FrameOfReferenceUID: ref.frameOfReferenceUID,
    Modality: first(h.Modality),
    Rows: ref.rows,
    Columns: ref.columns,
    NumberOfFrames: ref.slices.length,
    PixelData: new ArrayBuffer(0),
    SharedFunctionalGroupsSequence: {
      PlaneOrientationSequence: { ImageOrientationPatient: ref.orientation },
      PixelMeasuresSequence: {
        PixelSpacing: ref.pixelSpacing,
        SliceThickness: Number(h.SliceThickness ?? ref.geometry.spacing[2]),
        SpacingBetweenSlices: ref.geometry.spacing[2],
      },
    },
    PerFrameFunctionalGroupsSequence: ref.slices.map((s) => ({
      PlanePositionSequence: { ImagePositionPatient: s.position },
    })),
    ReferencedSeriesSequence: {
      SeriesInstanceUID: ref.seriesInstanceUID,
      ReferencedInstanceSequence: ref.slices.map((s) => ({
        ReferencedSOPClassUID: s.sopClassUID,
        ReferencedSOPInstanceUID: s.sopInstanceUID,
      })),
    },
  };
  const seg = new derivations.Segmentation([source], {
    includeSliceSpacing: true,
    Manufacturer: "backsplit",
    ManufacturerModelName: "backsplit",
    SoftwareVersions: options.softwareVersion ?? "0",
    SeriesDescription: options.seriesDescription ?? "backsplit segmentation",
    SeriesNumber: String(options.seriesNumber ?? 300),
    ...(options.seriesInstanceUID ? { SeriesInstanceUID: options.seriesInstanceUID } : {}),
    ...(options.sopInstanceUID ? { SOPInstanceUID: options.sopInstanceUID } : {}),
  });
  seg.setNumberOfFrames(frames.reduce((n, f) => n + f.length, 0));
  segments.forEach((s, i) => {
    const rgb = s.color ?? PALETTE[i % PALETTE.length];
    const lesion = (s.kind ?? "lesion") === "lesion";
    seg.addSegmentFromLabelmap(
      {
        SegmentLabel: s.label.slice(0, 64),
        ...(s.description ? { SegmentDescription: s.description } : {}),
        SegmentAlgorithmType: "AUTOMATIC",
        SegmentAlgorithmName: options.algorithmName ?? "backsplit",
        SegmentedPropertyCategoryCodeSequence: lesion ? CODES.morphologicallyAltered : CODES.tissue,
        SegmentedPropertyTypeCodeSequence: lesion ? CODES.lesion : CODES.tissue,
        RecommendedDisplayCIELabValue: data.Colors.rgb2DICOMLAB(rgb.map((c) => c / 255)).map((v) =>
          Math.max(0, Math.min(65535, Math.round(v))),
        ),
      },
      frames[i].map((f) => f.pixels),
      1,
      frames[i].map((f) => f.frame),
    );
  });
  seg.bitPackPixelData();
  return new Uint8Array(data.datasetToDict(seg.dataset).write());
}

/** Reads the reference series' headers, encodes the SEG and writes it atomically. */
export async function writeDicomSeg(
  file: string,
  referenceFolder: string,
  segments: readonly SegmentInput[],
  options: DicomSegOptions = {},
): Promise<DicomSeriesReference> {
  const ref = await readDicomSeriesReference(referenceFolder);
  writeFileAtomicSync(file, await encodeDicomSeg(ref, segments, options));
  return ref;
}
