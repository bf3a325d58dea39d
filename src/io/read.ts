// readVolume / writeVolume: one entry point for every format, chosen by extension.
import { existsSync, readFileSync, rmSync, statSync } from "node:fs";
import { commitSync, tempName } from "../util/atomic.js";
import { readWithItk, writeWithItk } from "./itk.js";
import { decodeMgh, decodeMghFrames } from "./mgh.js";
import { ImageFormatError, decodeNifti, decodeNiftiFrames, writeNifti, writeNiftiFrames } from "./nifti.js";
import type { Volume } from "./volume.js";

export { ImageFormatError };

/** File endings we recognise, longest first (".nii.gz" before ".gz"). */
export const IMAGE_ENDINGS = [".nii.gz", ".nii", ".mgz", ".mgh", ".nrrd", ".nhdr", ".mha", ".mhd"];

export function imageEnding(file: string): string | null {
  const lower = file.toLowerCase();
  return IMAGE_ENDINGS.find((e) => lower.endsWith(e)) ?? null;
}

/** Reads a 3-D image (NIfTI-1/-2, MGH/MGZ, NRRD, MetaImage, or a DICOM series folder) with its geometry. */
export async function readVolume(file: string): Promise<Volume> {
  if (!existsSync(file)) throw new ImageFormatError(`${file}: no such file`);
  if (statSync(file).isDirectory()) return readWithItk(file);
  return readVolumeSync(file) ?? readWithItk(file);
}

/** The synchronous fast path for NIfTI and MGH/MGZ; null for other formats. */
export function readVolumeSync(file: string): Volume | null {
  const ending = imageEnding(file);
  if (ending === ".nii" || ending === ".nii.gz") return decodeNifti(readFileSync(file), file);
  if (ending === ".mgh" || ending === ".mgz") return decodeMgh(readFileSync(file), file);
  return null;
}

/**
 * Reads an image as its 3-D frames: a 4-D NIfTI (NIfTI-1 or -2) or a multi-frame MGH/MGZ gives one
 * volume per frame (a Decathlon case's modalities, in file order), anything else one volume.
 */
export async function readChannels(file: string): Promise<Volume[]> {
  if (!existsSync(file)) throw new ImageFormatError(`${file}: no such file`);
  if (statSync(file).isDirectory()) return [await readWithItk(file)];
  return readChannelsSync(file) ?? [await readWithItk(file)];
}

/** The synchronous fast path of readChannels for NIfTI and MGH/MGZ; null for other formats. */
export function readChannelsSync(file: string): Volume[] | null {
  const ending = imageEnding(file);
  if (ending === ".nii" || ending === ".nii.gz") return decodeNiftiFrames(readFileSync(file), file);
  if (ending === ".mgh" || ending === ".mgz") return decodeMghFrames(readFileSync(file), file);
  return null;
}

/** Writes frames sharing one grid as one 4-D NIfTI file (.nii, .nii.gz; NIfTI-2 when a dim needs it). */
export function writeChannels(file: string, frames: readonly Volume[]): void {
  const ending = imageEnding(file);
  if (ending !== ".nii" && ending !== ".nii.gz")
    throw new ImageFormatError(`${file}: 4-D images are written as NIfTI only (.nii, .nii.gz)`);
  writeNiftiFrames(file, frames);
}

/** Writes NIfTI (.nii, .nii.gz) ourselves and other formats through ITK; always atomically. */
export async function writeVolume(file: string, volume: Volume): Promise<void> {
  const ending = imageEnding(file);
  if (ending === ".nii" || ending === ".nii.gz") {
    writeNifti(file, volume);
    return;
  }
  if (!ending) throw new ImageFormatError(`${file}: unknown image format (use one of ${IMAGE_ENDINGS.join(", ")})`);
  // The temporary name keeps the ending: ITK picks the format by it.
  const tmp = tempName(file, ending);
  try {
    await writeWithItk(tmp, volume);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw error;
  }
  commitSync(tmp, file);
}
