import { engineInfo, setThreads } from "../../engine/runtime.js";
import { EXIT } from "../exit-codes.js";
import type { Verb } from "../verb.js";

export const engineInfoVerb: Verb = {
  name: "engine info",
  summary: "show the libtorch engine: version, where it was found, CUDA, threads",
  help: `  --threads N    set the thread count first (default: all cores)
  --json         print one JSON object`,
  options: { json: { type: "boolean", default: false }, threads: { type: "string" } },
  async run(values) {
    setThreads(values.threads ? Number(values.threads) : undefined);
    const info = engineInfo();
    const tunables = process.env.GLIBC_TUNABLES ?? null;
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ ...info, glibcTunables: tunables })}\n`);
      return EXIT.ok;
    }
    const lib = info.libtorch;
    const lines = [
      `libtorch        ${info.version}`,
      `found           ${lib ? `${lib.source} (${lib.libDir})` : "unknown (no build/native/config.json)"}`,
      `built           ${lib ? `${lib.cxxStandard}, C++11 ABI ${lib.cxx11Abi ? "on" : "off"}, CUDA libraries ${lib.cuda ? "linked" : "absent"}` : "?"}`,
      `CUDA            ${info.cudaAvailable ? `available, ${info.cudaDeviceCount} device(s), cuDNN ${info.cudnnAvailable ? "yes" : "no"}` : "not available"}`,
      `threads         ${info.threads} intra-op, ${info.interopThreads} inter-op`,
      `oneDNN (MKLDNN) ${info.mkldnnAvailable ? "yes" : "no"}`,
      `malloc tunables ${tunables ?? "not set"}`,
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
    return EXIT.ok;
  },
};
