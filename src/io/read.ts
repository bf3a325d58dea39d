// readVolume / writeVolume: one entry point for every format, chosen by extension.
import { existsSync, readFileSync, rmSync, statSync } from "node:fs";
import { commitSync, tempName } from "../util/atomic.js";
import { readWithItk, writeWithItk } from "./itk.js";
import { decodeMgh } from "./mgh.js";
import { ImageFormatError, decodeNifti, writeNifti } from "./nifti.js";
import type { Volume } from "./volume.js";

export { ImageFormatError };

/** File endings we recognise, longest first (".nii.gz" before ".gz"). */
export const IMAGE_ENDINGS = [".nii.gz", ".nii", ".mgz", ".mgh", ".nrrd", ".nhdr", ".mha", ".mhd"];

export function imageEnding(file: string): string | null {
  const lower = file.toLowerCase();
  return IMAGE_ENDINGS.find((e) => lower.endsWith(e)) ?? null;
}

/** Reads a 3-D image (NIfTI, MGH/MGZ, NRRD, MetaImage, or a DICOM series folder) with its geometry. */
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
