// Everything our own readers do not cover (NRRD, MetaImage, DICOM series, …) goes through ITK's
// readers compiled to WebAssembly (@itk-wasm/image-io, @itk-wasm/dicom), loaded on first use.
import { readdirSync, statSync } from "node:fs";
import path from "node:path";
import { ImageFormatError } from "./errors.js";
import { type Mat3, type Vec3, Volume, type VoxelArray } from "./volume.js";

interface ItkImage {
  imageType: { dimension: number; componentType: string; components: number };
  size: number[];
  spacing: number[];
  origin: number[];
  direction: ArrayLike<number>;
  data: unknown;
}

function fromItk(image: ItkImage, source: string): Volume {
  const { dimension, components } = image.imageType;
  if (components !== 1)
    throw new ImageFormatError(`${source}: ${components} components per voxel; only scalar images are supported`);
  if (dimension !== 3 && !(dimension === 2))
    throw new ImageFormatError(`${source}: ${dimension}-D image; only 3-D volumes are supported`);
  const pad = (a: readonly number[], fill: number) => [0, 1, 2].map((i) => (i < a.length ? a[i] : fill));
  let direction = Array.from(image.direction);
  if (dimension === 2) direction = [direction[0], direction[1], 0, direction[2], direction[3], 0, 0, 0, 1];
  let data = image.data as VoxelArray | BigInt64Array | BigUint64Array;
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) data = Float64Array.from(data, Number);
  return new Volume(data as VoxelArray, {
    shape: pad(image.size, 1) as Vec3,
    spacing: pad(image.spacing, 1) as Vec3,
    origin: pad(image.origin, 0) as Vec3,
    // itk-wasm stores the direction row-major, as ITK does.
    direction: direction as Mat3,
  });
}

export async function readWithItk(file: string): Promise<Volume> {
  if (statSync(file).isDirectory()) return readDicomSeries(file);
  const { readImageNode } = await import("@itk-wasm/image-io");
  let image: ItkImage;
  try {
    image = (await readImageNode(file)) as unknown as ItkImage;
  } catch (error) {
    throw new ImageFormatError(`${file}: ITK could not read it (${(error as Error).message ?? error})`);
  }
  return fromItk(image, file);
}

export async function readDicomSeries(folder: string): Promise<Volume> {
  const files = readdirSync(folder)
    .map((f) => path.join(folder, f))
    .filter((f) => statSync(f).isFile() && !path.basename(f).startsWith("."));
  if (files.length === 0) throw new ImageFormatError(`${folder}: no files in this DICOM folder`);
  const { readImageDicomFileSeriesNode } = await import("@itk-wasm/dicom");
  let image: ItkImage;
  try {
    image = (await readImageDicomFileSeriesNode({ inputImages: files })).outputImage as unknown as ItkImage;
  } catch (error) {
    throw new ImageFormatError(`${folder}: not a readable DICOM series (${(error as Error).message ?? error})`);
  }
  return fromItk(image, folder);
}

export async function writeWithItk(file: string, volume: Volume): Promise<void> {
  const { writeImageNode } = await import("@itk-wasm/image-io");
  const image = {
    imageType: { dimension: 3, componentType: volume.type, pixelType: "Scalar", components: 1 },
    name: "image",
    origin: [...volume.origin],
    spacing: [...volume.spacing],
    direction: Float64Array.from(volume.direction),
    size: [...volume.shape],
    metadata: new Map(),
    data: volume.data,
  };
  await writeImageNode(image as never, file);
}
