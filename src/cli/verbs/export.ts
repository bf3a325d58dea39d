// `backsplit export`: a trained run as an ONNX model with the collapse rule folded in.
import path from "node:path";
import { CliError, EXIT } from "../exit-codes.js";
import { CHECKPOINT, COLLAPSE, type Verb, checkpointOption, collapseOption, numberOption } from "../verb.js";

export const exportVerb: Verb = {
  name: "export",
  args: "RUN",
  summary: "export a trained run as ONNX (outputs: lesion probability and lesion mask by the collapse rule)",
  help: `  --onnx FILE        where to write the model (required)
  --collapse C       prob (default) or argmax, folded into the lesion_mask output
  --threshold X      for prob (default 0.5)
  --checkpoint C     latest (the final weights, default, as nnU-Net) or best (best validation EMA)
The lesion_mask output is the thresholded network output: a postprocessing rule recorded with the run
(\`backsplit postprocess\`) is not part of the graph; apply it to the mask yourself. Nor is test-time
mirroring (\`predict\`'s default): the graph makes one pass over its input.`,
  options: {
    onnx: { type: "string" },
    collapse: { type: "string", default: "prob" },
    threshold: { type: "string", default: "0.5" },
    checkpoint: { type: "string", default: "latest" },
  },
  choices: { collapse: COLLAPSE, checkpoint: CHECKPOINT },
  async run(values, positionals) {
    if (positionals.length !== 1) throw new CliError("expected one training run folder", EXIT.usage);
    if (!values.onnx) throw new CliError("--onnx FILE is required", EXIT.usage);
    const collapse = collapseOption(values);
    const { loadRun } = await import("../../predict/predict.js");
    const { exportOnnx } = await import("../../predict/onnx.js");
    const model = loadRun(path.resolve(positionals[0]), "cpu", checkpointOption(values));
    const file = path.resolve(String(values.onnx));
    const { SliceAdapter } = await import("../../models/slices.js");
    const twoD = model.net instanceof SliceAdapter;
    exportOnnx(twoD ? (model.net as InstanceType<typeof SliceAdapter>).inner : model.net, file, {
      lesionValues: model.lesionValues,
      collapse,
      threshold: numberOption(values, "threshold", 0.5),
      dims: twoD ? 2 : 3,
      metadata: {
        classes: JSON.stringify(model.classes),
        plans: JSON.stringify(model.plans.configurations[model.configuration]),
      },
    });
    process.stdout.write(
      `wrote ${file} (input [N, ${Object.keys(model.plans.foreground_intensity_properties_per_channel).length}, D, H, W], preprocessed as in plans.json)\n`,
    );
    return EXIT.ok;
  },
};
