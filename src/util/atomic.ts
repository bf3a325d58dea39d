// Atomic file writes: write a temporary file beside the target, then rename it over the target,
// so a crash or an error never leaves a half-written file under the final name.
import { randomBytes } from "node:crypto";
import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";

function tempName(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
}

export function writeFileAtomicSync(
  file: string,
  data: string | NodeJS.ArrayBufferView | readonly NodeJS.ArrayBufferView[],
): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = tempName(file);
  try {
    if (Array.isArray(data)) {
      writeFileSync(tmp, Buffer.concat(data.map((d) => Buffer.from(d.buffer, d.byteOffset, d.byteLength))));
    } else {
      writeFileSync(tmp, data as string | NodeJS.ArrayBufferView);
    }
    renameSync(tmp, file);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw error;
  }
}

export async function writeFileAtomic(file: string, data: string | NodeJS.ArrayBufferView): Promise<void> {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = tempName(file);
  try {
    await writeFile(tmp, data);
    await rename(tmp, file);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
}
