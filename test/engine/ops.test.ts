// Every op's forward value and gradient against PyTorch (Debian's python3-torch), case by case.
import { test } from "node:test";
import { F, type Tensor, cat, einsum, setThreads, stack, tensor, tidy, where } from "../../src/engine/index.js";
import { assertClose } from "../helpers/assert.js";
import { normals, product, uniforms } from "../helpers/data.js";
import { runPython } from "../helpers/python.js";

type Gen = "normal" | "positive" | "unit" | "grid" | `int:${number}` | "bool" | "prob";
interface Input {
  shape: number[];
  gen?: Gen;
  dtype?: "float32" | "float64" | "int64" | "bool";
  grad?: boolean;
}
interface Case {
  name: string;
  inputs: Input[];
  ts: (x: Tensor[]) => Tensor | Tensor[];
  py: string;
  rtol?: number;
  atol?: number;
}

const f = (shape: number[], gen: Gen = "normal"): Input => ({ shape, gen, grad: true });
const c = (shape: number[], gen: Gen = "normal"): Input => ({ shape, gen, grad: false });
const ints = (shape: number[], k: number): Input => ({ shape, gen: `int:${k}`, dtype: "int64" });
const bools = (shape: number[]): Input => ({ shape, gen: "bool", dtype: "bool" });

const CASES: Case[] = [
  // convolution
  {
    name: "conv3d",
    inputs: [f([2, 3, 5, 6, 4]), f([4, 3, 3, 3, 3]), f([4])],
    ts: ([x, w, b]) => F.conv(x, w, b, { padding: 1 }),
    py: "F.conv3d(x0, x1, x2, padding=1)",
  },
  {
    name: "conv3d stride dilation",
    inputs: [f([1, 2, 7, 7, 7]), f([3, 2, 3, 3, 3])],
    ts: ([x, w]) => F.conv(x, w, null, { stride: 2, dilation: 2, padding: 2 }),
    py: "F.conv3d(x0, x1, None, stride=2, dilation=2, padding=2)",
  },
  {
    // One sample: ours pads a zero second sample to take oneDNN instead of slow_conv3d; PyTorch does not.
    name: "conv3d one sample, strided",
    inputs: [f([1, 3, 6, 5, 7]), f([4, 3, 3, 3, 3]), f([4])],
    ts: ([x, w, b]) => F.conv(x, w, b, { padding: 1, stride: [2, 1, 2] }),
    py: "F.conv3d(x0, x1, x2, padding=1, stride=(2, 1, 2))",
  },
  {
    name: "conv2d groups",
    inputs: [f([2, 4, 6, 5]), f([6, 2, 3, 3]), f([6])],
    ts: ([x, w, b]) => F.conv(x, w, b, { groups: 2, stride: [1, 2] }),
    py: "F.conv2d(x0, x1, x2, groups=2, stride=(1, 2))",
  },
  {
    name: "convTranspose3d",
    inputs: [f([2, 4, 3, 3, 2]), f([4, 2, 2, 2, 2]), f([2])],
    ts: ([x, w, b]) => F.convTranspose(x, w, b, { stride: 2 }),
    py: "F.conv_transpose3d(x0, x1, x2, stride=2)",
  },
  {
    name: "convTranspose2d padding",
    inputs: [f([1, 3, 4, 5]), f([3, 2, 3, 3])],
    ts: ([x, w]) => F.convTranspose(x, w, null, { stride: 2, padding: 1, outputPadding: 1 }),
    py: "F.conv_transpose2d(x0, x1, None, stride=2, padding=1, output_padding=1)",
  },
  // normalisation
  {
    name: "instanceNorm",
    inputs: [f([2, 3, 4, 5, 3]), f([3], "positive"), f([3])],
    ts: ([x, w, b]) => F.instanceNorm(x, { weight: w, bias: b }),
    py: "F.instance_norm(x0, weight=x1, bias=x2)",
    rtol: 1e-4,
    atol: 1e-5,
  },
  {
    name: "groupNorm",
    inputs: [f([2, 6, 4, 5]), f([6], "positive"), f([6])],
    ts: ([x, w, b]) => F.groupNorm(x, 3, { weight: w, bias: b }),
    py: "F.group_norm(x0, 3, weight=x1, bias=x2)",
    rtol: 1e-4,
    atol: 1e-5,
  },
  {
    name: "batchNorm training",
    inputs: [f([4, 3, 5]), f([3], "positive"), f([3])],
    ts: ([x, w, b]) => F.batchNorm(x, { weight: w, bias: b, training: true }),
    py: "F.batch_norm(x0, None, None, weight=x1, bias=x2, training=True)",
    rtol: 1e-4,
    atol: 1e-5,
  },
  {
    name: "layerNorm",
    inputs: [f([3, 4, 5]), f([4, 5], "positive"), f([4, 5])],
    ts: ([x, w, b]) => F.layerNorm(x, [4, 5], { weight: w, bias: b }),
    py: "F.layer_norm(x0, [4, 5], weight=x1, bias=x2)",
    rtol: 1e-4,
    atol: 1e-5,
  },
  // activations
  { name: "relu", inputs: [f([3, 7])], ts: ([x]) => F.relu(x), py: "F.relu(x0)" },
  { name: "leakyRelu", inputs: [f([3, 7])], ts: ([x]) => F.leakyRelu(x, 0.01), py: "F.leaky_relu(x0, 0.01)" },
  { name: "elu", inputs: [f([3, 7])], ts: ([x]) => F.elu(x), py: "F.elu(x0)" },
  { name: "gelu", inputs: [f([3, 7])], ts: ([x]) => F.gelu(x), py: "F.gelu(x0)" },
  { name: "silu", inputs: [f([3, 7])], ts: ([x]) => F.silu(x), py: "F.silu(x0)" },
  { name: "sigmoid", inputs: [f([3, 7])], ts: ([x]) => F.sigmoid(x), py: "torch.sigmoid(x0)" },
  { name: "tanh", inputs: [f([3, 7])], ts: ([x]) => F.tanh(x), py: "torch.tanh(x0)" },
  { name: "softplus", inputs: [f([3, 7])], ts: ([x]) => F.softplus(x, 2, 20), py: "F.softplus(x0, 2, 20)" },
  { name: "softmax", inputs: [f([2, 5, 3, 4])], ts: ([x]) => F.softmax(x, 1), py: "F.softmax(x0, 1)" },
  { name: "logSoftmax", inputs: [f([2, 5, 3, 4])], ts: ([x]) => F.logSoftmax(x, 1), py: "F.log_softmax(x0, 1)" },
  // pooling
  { name: "maxPool3d", inputs: [f([1, 2, 6, 6, 4])], ts: ([x]) => F.maxPool(x, 2), py: "F.max_pool3d(x0, 2)" },
  {
    name: "maxPool2d stride padding",
    inputs: [f([2, 2, 7, 6])],
    ts: ([x]) => F.maxPool(x, 3, { stride: 2, padding: 1 }),
    py: "F.max_pool2d(x0, 3, stride=2, padding=1)",
  },
  { name: "avgPool3d", inputs: [f([1, 2, 6, 6, 4])], ts: ([x]) => F.avgPool(x, 2), py: "F.avg_pool3d(x0, 2)" },
  {
    name: "avgPool2d",
    inputs: [f([1, 3, 6, 5])],
    ts: ([x]) => F.avgPool(x, [3, 2], { stride: 1 }),
    py: "F.avg_pool2d(x0, (3, 2), stride=1)",
  },
  {
    name: "adaptiveAvgPool3d",
    inputs: [f([1, 2, 5, 6, 7])],
    ts: ([x]) => F.adaptiveAvgPool(x, [2, 3, 2]),
    py: "F.adaptive_avg_pool3d(x0, (2, 3, 2))",
  },
  // resampling
  {
    name: "interpolate trilinear",
    inputs: [f([1, 2, 3, 4, 5])],
    ts: ([x]) => F.interpolate(x, [6, 5, 7], "trilinear"),
    py: "F.interpolate(x0, size=(6, 5, 7), mode='trilinear', align_corners=False)",
  },
  {
    name: "interpolate trilinear aligned",
    inputs: [f([1, 1, 3, 4, 5])],
    ts: ([x]) => F.interpolate(x, [5, 7, 9], "trilinear", true),
    py: "F.interpolate(x0, size=(5, 7, 9), mode='trilinear', align_corners=True)",
  },
  {
    name: "interpolate nearest",
    inputs: [f([1, 2, 3, 4, 5])],
    ts: ([x]) => F.interpolate(x, [6, 8, 3], "nearest"),
    py: "F.interpolate(x0, size=(6, 8, 3), mode='nearest')",
  },
  {
    name: "interpolate bilinear",
    inputs: [f([2, 1, 4, 5])],
    ts: ([x]) => F.interpolate(x, [7, 3], "bilinear"),
    py: "F.interpolate(x0, size=(7, 3), mode='bilinear', align_corners=False)",
  },
  {
    name: "gridSample 3d bilinear",
    inputs: [f([2, 2, 4, 5, 6]), f([2, 3, 4, 2, 3], "grid")],
    ts: ([x, g]) => F.gridSample(x, g),
    py: "F.grid_sample(x0, x1, mode='bilinear', padding_mode='zeros', align_corners=False)",
    rtol: 1e-4,
    atol: 1e-5,
  },
  {
    name: "gridSample 2d border aligned",
    inputs: [f([1, 3, 5, 6]), f([1, 4, 3, 2], "grid")],
    ts: ([x, g]) => F.gridSample(x, g, { padding: "border", alignCorners: true }),
    py: "F.grid_sample(x0, x1, mode='bilinear', padding_mode='border', align_corners=True)",
    rtol: 1e-4,
    atol: 1e-5,
  },
  {
    name: "gridSample 3d nearest",
    inputs: [f([1, 2, 4, 5, 6]), c([1, 2, 3, 2, 3], "grid")],
    ts: ([x, g]) => F.gridSample(x, g, { mode: "nearest" }),
    py: "F.grid_sample(x0, x1, mode='nearest', align_corners=False)",
  },
  {
    name: "affineGrid 3d",
    inputs: [f([2, 3, 4])],
    ts: ([t]) => F.affineGrid(t, [2, 1, 3, 4, 5]),
    py: "F.affine_grid(x0, [2, 1, 3, 4, 5], align_corners=False)",
  },
  {
    name: "pad constant",
    inputs: [f([1, 2, 3, 4])],
    ts: ([x]) => F.pad(x, [1, 2, 0, 1], "constant", 0.5),
    py: "F.pad(x0, [1, 2, 0, 1], mode='constant', value=0.5)",
  },
  {
    name: "pad reflect 3d",
    inputs: [f([1, 2, 3, 4, 5])],
    ts: ([x]) => F.pad(x, [1, 1, 2, 0, 1, 1], "reflect"),
    py: "F.pad(x0, [1, 1, 2, 0, 1, 1], mode='reflect')",
  },
  {
    name: "pad replicate",
    inputs: [f([1, 2, 3, 4, 5])],
    ts: ([x]) => F.pad(x, [2, 1, 0, 1, 1, 0], "replicate"),
    py: "F.pad(x0, [2, 1, 0, 1, 1, 0], mode='replicate')",
  },
  // losses
  {
    name: "crossEntropy weight ignore",
    inputs: [f([2, 4, 3, 5]), ints([2, 3, 5], 5), c([4], "positive")],
    ts: ([x, t, w]) => F.crossEntropy(x, t.sub(1).clamp(-1, 3).maskedFill(t.eq(0), -1), { weight: w, ignoreIndex: -1 }),
    py: "F.cross_entropy(x0, (x1 - 1).clamp(-1, 3).masked_fill(x1 == 0, -1), weight=x2, ignore_index=-1)",
  },
  {
    name: "crossEntropy 3d none",
    inputs: [f([2, 3, 2, 3, 2]), ints([2, 2, 3, 2], 3)],
    ts: ([x, t]) => F.crossEntropy(x, t, { reduction: "none" }),
    py: "F.cross_entropy(x0, x1, reduction='none')",
  },
  {
    name: "crossEntropy label smoothing",
    inputs: [f([5, 4]), ints([5], 4)],
    ts: ([x, t]) => F.crossEntropy(x, t, { labelSmoothing: 0.1 }),
    py: "F.cross_entropy(x0, x1, label_smoothing=0.1)",
  },
  {
    name: "nllLoss sum",
    inputs: [f([2, 4, 3]), ints([2, 3], 4)],
    ts: ([x, t]) => F.nllLoss(F.logSoftmax(x, 1), t, { reduction: "sum" }),
    py: "F.nll_loss(F.log_softmax(x0, 1), x1, reduction='sum')",
  },
  {
    name: "bceWithLogits",
    inputs: [f([3, 4]), c([3, 4], "prob")],
    ts: ([x, t]) => F.binaryCrossEntropyWithLogits(x, t),
    py: "F.binary_cross_entropy_with_logits(x0, x1)",
  },
  { name: "mseLoss", inputs: [f([3, 4]), f([3, 4])], ts: ([a, b]) => F.mseLoss(a, b), py: "F.mse_loss(x0, x1)" },
  // reductions
  {
    name: "sum dims keepdim",
    inputs: [f([2, 3, 4])],
    ts: ([x]) => x.sum([0, 2], true),
    py: "x0.sum(dim=(0, 2), keepdim=True)",
  },
  { name: "mean all", inputs: [f([2, 3, 4])], ts: ([x]) => x.mean(), py: "x0.mean()" },
  { name: "var unbiased", inputs: [f([3, 5])], ts: ([x]) => x.var(1), py: "x0.var(dim=1, unbiased=True)", rtol: 1e-4 },
  { name: "amax", inputs: [f([3, 5, 2])], ts: ([x]) => x.amax([1]), py: "x0.amax(dim=1)" },
  { name: "max dim values", inputs: [f([3, 5])], ts: ([x]) => x.max(1)[0], py: "x0.max(dim=1).values" },
  {
    name: "logsumexp",
    inputs: [f([3, 5, 2])],
    ts: ([x]) => x.logsumexp(1, true),
    py: "x0.logsumexp(dim=1, keepdim=True)",
  },
  { name: "cumsum", inputs: [f([3, 5])], ts: ([x]) => x.cumsum(1), py: "x0.cumsum(1)" },
  { name: "norm", inputs: [f([3, 5])], ts: ([x]) => x.norm(), py: "x0.norm()" },
  { name: "prod", inputs: [f([2, 3], "positive")], ts: ([x]) => x.prod(), py: "x0.prod()" },
  // elementwise
  {
    name: "add mul div",
    inputs: [f([3, 4]), f([4]), f([3, 1], "positive")],
    ts: ([a, b, d]) => a.add(b).mul(a).div(d),
    py: "(x0 + x1) * x0 / x2",
  },
  {
    name: "scalar ops",
    inputs: [f([3, 4])],
    ts: ([a]) => a.mul(3).add(2).sub(0.5).div(4).rsub(1),
    py: "1 - ((x0 * 3 + 2 - 0.5) / 4)",
  },
  {
    name: "pow exp log sqrt",
    inputs: [f([3, 4], "positive")],
    ts: ([a]) => a.pow(1.5).add(a.exp()).add(a.log()).add(a.sqrt()).add(a.rsqrt()),
    py: "x0.pow(1.5) + x0.exp() + x0.log() + x0.sqrt() + x0.rsqrt()",
  },
  { name: "tensor pow", inputs: [f([3, 4], "positive"), f([3, 4])], ts: ([a, b]) => a.pow(b), py: "x0.pow(x1)" },
  {
    name: "abs clamp neg",
    inputs: [f([3, 4])],
    ts: ([a]) => a.abs().clamp(0.2, 1.1).neg().add(a.clamp(null, 0.3)),
    py: "-x0.abs().clamp(0.2, 1.1) + x0.clamp(max=0.3)",
  },
  {
    name: "maximum minimum",
    inputs: [f([3, 4]), f([3, 4])],
    ts: ([a, b]) => a.maximum(b).add(a.minimum(b).mul(2)),
    py: "torch.maximum(x0, x1) + 2 * torch.minimum(x0, x1)",
  },
  {
    name: "log1p expm1 erf sin cos",
    inputs: [f([3, 4], "positive")],
    ts: ([a]) => a.log1p().add(a.expm1()).add(a.erf()).add(a.sin()).add(a.cos()),
    py: "x0.log1p() + x0.expm1() + x0.erf() + x0.sin() + x0.cos()",
  },
  {
    name: "square reciprocal lerp",
    inputs: [f([3, 4], "positive"), f([3, 4])],
    ts: ([a, b]) => a.square().add(a.reciprocal()).add(a.lerp(b, 0.3)),
    py: "x0.square() + x0.reciprocal() + torch.lerp(x0, x1, 0.3)",
  },
  {
    name: "floor ceil round sign",
    inputs: [c([3, 4])],
    ts: ([a]) => a.mul(3).floor().add(a.mul(3).ceil()).add(a.mul(3).round()).add(a.sign()).add(a.mul(3).trunc()),
    py: "(x0 * 3).floor() + (x0 * 3).ceil() + (x0 * 3).round() + x0.sign() + (x0 * 3).trunc()",
  },
  {
    name: "remainder floorDiv",
    inputs: [ints([3, 4], 20)],
    ts: ([a]) => a.remainder(7).add(a.floorDiv(3)),
    py: "x0.remainder(7) + torch.div(x0, 3, rounding_mode='floor')",
  },
  // comparisons, selection
  {
    name: "comparisons",
    inputs: [c([3, 4]), c([3, 4])],
    ts: ([a, b]) => stack([a.eq(a), a.gt(b), a.ge(0), a.lt(b), a.le(b), a.ne(b)]).float(),
    py: "torch.stack([x0 == x0, x0 > x1, x0 >= 0, x0 < x1, x0 <= x1, x0 != x1]).float()",
  },
  {
    name: "logic",
    inputs: [bools([3, 4]), bools([3, 4])],
    ts: ([a, b]) => stack([a.logicalAnd(b), a.logicalOr(b), a.logicalXor(b), a.logicalNot()]).float(),
    py: "torch.stack([x0 & x1, x0 | x1, x0 ^ x1, ~x0]).float()",
  },
  {
    name: "argmax argmin",
    inputs: [c([3, 5, 4])],
    ts: ([a]) => stack([a.argmax(1), a.argmin(1)]).float(),
    py: "torch.stack([x0.argmax(1), x0.argmin(1)]).float()",
  },
  { name: "topk values", inputs: [f([3, 6])], ts: ([a]) => a.topk(2, 1)[0], py: "x0.topk(2, dim=1).values" },
  {
    name: "topk indices",
    inputs: [c([3, 6])],
    ts: ([a]) => a.topk(3, 1, false)[1].float(),
    py: "x0.topk(3, dim=1, largest=False).indices.float()",
  },
  { name: "sort", inputs: [f([3, 6])], ts: ([a]) => a.sort(1, true)[0], py: "x0.sort(dim=1, descending=True).values" },
  {
    name: "where",
    inputs: [f([3, 4]), f([3, 4]), c([3, 4])],
    ts: ([a, b, m]) => where(m.gt(0), a, b),
    py: "torch.where(x2 > 0, x0, x1)",
  },
  {
    name: "where scalar",
    inputs: [f([3, 4]), c([3, 4])],
    ts: ([a, m]) => where(m.gt(0), a, 0.25),
    py: "torch.where(x1 > 0, x0, torch.tensor(0.25))",
  },
  { name: "oneHot", inputs: [ints([2, 3, 4], 5)], ts: ([t]) => F.oneHot(t, 5).float(), py: "F.one_hot(x0, 5).float()" },
  {
    name: "maskedFill maskedSelect",
    inputs: [f([3, 4]), c([3, 4])],
    ts: ([a, m]) => a.maskedFill(m.gt(0.5), 2).maskedSelect(m.lt(1)),
    py: "x0.masked_fill(x1 > 0.5, 2).masked_select(x1 < 1)",
  },
  // shape and indexing
  {
    name: "reshape permute transpose",
    inputs: [f([2, 3, 4])],
    ts: ([a]) => a.reshape([3, 2, 4]).permute([2, 0, 1]).transpose(0, 2).contiguous(),
    py: "x0.reshape(3, 2, 4).permute(2, 0, 1).transpose(0, 2).contiguous()",
  },
  {
    name: "slice step select",
    inputs: [f([5, 6, 4])],
    ts: ([a]) => a.slice(1, 1, 6, 2).select(2, 1).slice(0, -3),
    py: "x0[:, 1:6:2, 1][-3:]",
  },
  { name: "index helper", inputs: [f([5, 6, 4])], ts: ([a]) => a.index(null, [1, 5, 2], 2), py: "x0[:, 1:5:2, 2]" },
  {
    name: "narrow flip roll",
    inputs: [f([4, 5])],
    ts: ([a]) => a.narrow(1, 1, 3).flip([0]).roll([1, -1], [0, 1]),
    py: "x0.narrow(1, 1, 3).flip([0]).roll((1, -1), (0, 1))",
  },
  {
    name: "squeeze unsqueeze expand repeat",
    inputs: [f([3, 1, 2])],
    ts: ([a]) => a.squeeze(1).unsqueeze(0).expand([2, 3, 2]).repeat([1, 2, 1]),
    py: "x0.squeeze(1).unsqueeze(0).expand(2, 3, 2).repeat(1, 2, 1)",
  },
  { name: "flatten", inputs: [f([2, 3, 4, 2])], ts: ([a]) => a.flatten(1, 2), py: "x0.flatten(1, 2)" },
  {
    name: "gather indexSelect",
    inputs: [f([4, 5]), ints([4, 3], 5), ints([3], 4)],
    ts: ([a, i, j]) => a.gather(1, i).indexSelect(0, j),
    py: "x0.gather(1, x1).index_select(0, x2)",
  },
  {
    name: "scatterAdd",
    inputs: [f([3, 5]), ints([3, 4], 5), f([3, 4])],
    ts: ([a, i, s]) => a.scatterAdd(1, i, s),
    py: "x0.scatter_add(1, x1, x2)",
  },
  {
    name: "cat stack",
    inputs: [f([2, 3]), f([2, 2])],
    ts: ([a, b]) => stack([cat([a, b], 1), cat([b, a], 1)], 0),
    py: "torch.stack([torch.cat([x0, x1], 1), torch.cat([x1, x0], 1)], 0)",
  },
  {
    name: "split chunk",
    inputs: [f([6, 4])],
    ts: ([a]) => cat(a.split(4, 0).reverse(), 0).add(cat(a.chunk(2, 1).reverse(), 1)),
    py: "torch.cat([x0[4:], x0[:4]], 0) + torch.cat([x0[:, 2:], x0[:, :2]], 1)",
  },
  // linear algebra
  { name: "matmul batched", inputs: [f([2, 3, 4]), f([4, 5])], ts: ([a, b]) => a.matmul(b), py: "x0 @ x1", rtol: 1e-4 },
  {
    name: "einsum",
    inputs: [f([2, 3, 4]), f([2, 4, 5])],
    ts: ([a, b]) => einsum("bij,bjk->bik", [a, b]),
    py: "torch.einsum('bij,bjk->bik', x0, x1)",
    rtol: 1e-4,
  },
];

function makeData(input: Input, seed: number): number[] {
  const n = product(input.shape);
  const gen = input.gen ?? "normal";
  if (gen === "normal") return normals(n, seed);
  if (gen === "positive") return normals(n, seed).map((v) => Math.abs(v) + 0.5);
  if (gen === "unit" || gen === "prob") return uniforms(n, seed);
  if (gen === "grid") return uniforms(n, seed, -1.1, 1.1);
  if (gen === "bool") return uniforms(n, seed).map((v) => (v < 0.5 ? 1 : 0));
  return uniforms(n, seed).map((v) => Math.floor(v * Number(gen.slice(4))));
}

test("ops: forward values and gradients match PyTorch", () => {
  setThreads(1);
  const request: unknown[] = [];
  const ours = new Map<string, { out: number[]; shape: number[]; grads: (number[] | null)[] }>();
  CASES.forEach((cs, k) => {
    const datas = cs.inputs.map((input, i) => {
      const raw = makeData(input, 1000 * k + i);
      // Round through float32 so both sides start from identical values.
      return input.dtype === undefined || input.dtype === "float32" ? Array.from(Float32Array.from(raw)) : raw;
    });
    tidy(() => {
      const xs = cs.inputs.map((input, i) => {
        const t = tensor(datas[i], input.shape, { dtype: input.dtype ?? "float32" });
        return input.grad ? t.requiresGrad_(true) : t;
      });
      const result = cs.ts(xs);
      const out = Array.isArray(result) ? result[0] : result;
      const needsGrad = cs.inputs.some((i) => i.grad);
      let weight: { data: number[]; shape: number[] } | null = null;
      if (needsGrad) {
        weight = { data: Array.from(Float32Array.from(normals(out.numel, 7 + k))), shape: out.shape };
        out.mul(tensor(weight.data, out.shape)).sum().backward();
      }
      ours.set(cs.name, {
        out: out.toArray(),
        shape: out.shape,
        grads: xs.map((x, i) => (cs.inputs[i].grad ? (x.grad?.toArray() ?? null) : null)),
      });
      request.push({
        name: cs.name,
        expr: cs.py,
        inputs: cs.inputs.map((input, i) => ({
          data: datas[i],
          shape: input.shape,
          dtype: input.dtype ?? "float32",
          grad: input.grad ?? false,
        })),
        weight,
      });
    });
  });
  const reference = runPython<Record<string, { out: number[]; shape: number[]; grads: (number[] | null)[] }>>(
    "ops_reference.py",
    {
      cases: request,
    },
  );
  for (const cs of CASES) {
    const mine = ours.get(cs.name)!;
    const theirs = reference[cs.name];
    const rtol = cs.rtol ?? 1e-5;
    const atol = cs.atol ?? 1e-6;
    if (mine.shape.join("x") !== theirs.shape.join("x"))
      throw new Error(`${cs.name}: shape [${mine.shape}] vs PyTorch [${theirs.shape}]`);
    assertClose(mine.out, theirs.out, rtol, atol, `${cs.name} forward`);
    mine.grads.forEach((g, i) => {
      if (!cs.inputs[i].grad) return;
      if (g === null || theirs.grads[i] === null)
        throw new Error(
          `${cs.name}: gradient of input ${i} missing (ours ${g !== null}, PyTorch ${theirs.grads[i] !== null})`,
        );
      assertClose(g, theirs.grads[i]!, rtol * 10, atol * 10, `${cs.name} grad of input ${i}`);
    });
  }
});
