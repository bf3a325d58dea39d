// The parts of dcmjs (https://github.com/dcmjs-org/dcmjs, which ships no types) that src/io/dicom-seg.ts uses.
declare module "dcmjs" {
  /** A naturalized dataset: keyword → value (sequences as arrays or single objects). */
  export type NaturalDataset = Record<string, unknown> & {
    _meta?: Record<string, unknown>;
    _vrMap?: Record<string, string>;
  };

  export interface DicomDictLike {
    meta: Record<string, unknown>;
    dict: Record<string, unknown>;
    write(options?: Record<string, unknown>): ArrayBuffer;
  }

  export const data: {
    DicomMessage: {
      readFile(
        buffer: ArrayBuffer,
        options?: {
          ignoreErrors?: boolean;
          untilTag?: string | null;
          includeUntilTagValue?: boolean;
          noCopy?: boolean;
        },
      ): DicomDictLike;
    };
    DicomMetaDictionary: {
      naturalizeDataset(dict: Record<string, unknown>): NaturalDataset;
      namifyDataset(dict: Record<string, unknown>): NaturalDataset;
      uid(): string;
      sopClassUIDsByName: Record<string, string>;
    };
    Colors: { rgb2DICOMLAB(rgb: number[]): number[] };
    datasetToDict(dataset: NaturalDataset): DicomDictLike;
  };

  export const derivations: {
    Segmentation: new (
      datasets: NaturalDataset[],
      options?: Record<string, unknown>,
    ) => {
      dataset: NaturalDataset;
      setNumberOfFrames(n: number): void;
      addSegmentFromLabelmap(
        segment: Record<string, unknown>,
        labelmaps: Uint8Array[],
        segmentIndexInLabelmap: number,
        referencedFrameNumbers: number[],
      ): void;
      bitPackPixelData(): void;
    };
  };

  export const log: { setLevel(level: string): void; getLevel(): number };
}
