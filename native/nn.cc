// Neural-network primitives: convolution, normalisation, activations, pooling,
// resampling and losses.
#include "common.h"

namespace bs {
namespace {

namespace F = torch::nn::functional;

Napi::Value convolution(Args& a) {
  // convolution(input, weight, bias|null, stride, padding, dilation, transposed, outputPadding, groups)
  return a.ret(at::convolution(a.t(0), a.t(1), a.optT(2), a.ints(3), a.ints(4), a.ints(5), a.b(6), a.ints(7),
                               a.i64(8)));
}

Napi::Value interpolate(Args& a) {
  // interpolate(input, size, mode, alignCorners|null)
  auto opts = F::InterpolateFuncOptions().size(a.ints(1));
  auto mode = a.str(2);
  if (mode == "nearest") opts = opts.mode(torch::kNearest);
  else if (mode == "linear") opts = opts.mode(torch::kLinear);
  else if (mode == "bilinear") opts = opts.mode(torch::kBilinear);
  else if (mode == "trilinear") opts = opts.mode(torch::kTrilinear);
  else if (mode == "bicubic") opts = opts.mode(torch::kBicubic);
  else if (mode == "area") opts = opts.mode(torch::kArea);
  else throw std::invalid_argument("interpolate: unknown mode '" + mode + "'");
  if (a.has(3)) opts = opts.align_corners(a.b(3));
  return a.ret(F::interpolate(a.t(0), opts));
}

int64_t gridMode(const std::string& mode) {
  if (mode == "bilinear") return 0;
  if (mode == "nearest") return 1;
  if (mode == "bicubic") return 2;
  throw std::invalid_argument("gridSample: unknown mode '" + mode + "'");
}

int64_t gridPadding(const std::string& padding) {
  if (padding == "zeros") return 0;
  if (padding == "border") return 1;
  if (padding == "reflection") return 2;
  throw std::invalid_argument("gridSample: unknown padding '" + padding + "'");
}

int64_t reduction(const std::string& name) {
  if (name == "none") return at::Reduction::None;
  if (name == "mean") return at::Reduction::Mean;
  if (name == "sum") return at::Reduction::Sum;
  throw std::invalid_argument("unknown reduction '" + name + "'");
}

const OpEntry kEntries[] = {
    {"convolution", convolution},
    // normalisation: (input, weight|null, bias|null, ..., eps)
    BS_OP("instanceNorm", at::instance_norm(a.t(0), a.optT(1), a.optT(2), a.optT(3), a.optT(4), a.b(5), a.f64(6),
                                            a.f64(7), true)),
    BS_OP("groupNorm", at::group_norm(a.t(0), a.i64(1), a.optT(2), a.optT(3), a.f64(4), true)),
    BS_OP("batchNorm", at::batch_norm(a.t(0), a.optT(1), a.optT(2), a.optT(3), a.optT(4), a.b(5), a.f64(6), a.f64(7),
                                      true)),
    BS_OP("layerNorm", at::layer_norm(a.t(0), a.ints(1), a.optT(2), a.optT(3), a.f64(4), true)),
    // activations
    BS_OP("relu", at::relu(a.t(0))),
    BS_OP("leakyRelu", at::leaky_relu(a.t(0), a.scalar(1))),
    BS_OP("elu", at::elu(a.t(0), a.scalar(1))),
    BS_OP("gelu", at::gelu(a.t(0))),
    BS_OP("silu", at::silu(a.t(0))),
    BS_OP("sigmoid", at::sigmoid(a.t(0))),
    BS_OP("tanh", at::tanh(a.t(0))),
    BS_OP("softplus", at::softplus(a.t(0), a.scalar(1), a.scalar(2))),
    BS_OP("softmax", at::softmax(a.t(0), a.i64(1))),
    BS_OP("logSoftmax", at::log_softmax(a.t(0), a.i64(1))),
    BS_OP("dropout", at::dropout(a.t(0), a.f64(1), a.b(2))),
    // pooling: (input, kernel, stride, padding, ...)
    BS_OP("maxPool2d", at::max_pool2d(a.t(0), a.ints(1), a.ints(2), a.ints(3), a.ints(4), a.b(5))),
    BS_OP("maxPool3d", at::max_pool3d(a.t(0), a.ints(1), a.ints(2), a.ints(3), a.ints(4), a.b(5))),
    BS_OP("avgPool2d", at::avg_pool2d(a.t(0), a.ints(1), a.ints(2), a.ints(3), a.b(4), a.b(5))),
    BS_OP("avgPool3d", at::avg_pool3d(a.t(0), a.ints(1), a.ints(2), a.ints(3), a.b(4), a.b(5))),
    BS_OP("adaptiveAvgPool2d", at::adaptive_avg_pool2d(a.t(0), a.ints(1))),
    BS_OP("adaptiveAvgPool3d", at::adaptive_avg_pool3d(a.t(0), a.ints(1))),
    // resampling
    {"interpolate", interpolate},
    BS_OP("gridSample", at::grid_sampler(a.t(0), a.t(1), gridMode(a.str(2)), gridPadding(a.str(3)), a.b(4))),
    BS_OP("affineGrid", at::affine_grid_generator(a.t(0), a.ints(1), a.b(2))),
    // losses: (input, target, weight|null, reduction, ...)
    BS_OP("crossEntropy", at::cross_entropy_loss(a.t(0), a.t(1), a.optT(2), reduction(a.str(3)), a.i64(4), a.f64(5))),
    BS_OP("nllLoss", at::nll_loss_nd(a.t(0), a.t(1), a.optT(2), reduction(a.str(3)), a.i64(4))),
    BS_OP("bceWithLogits", at::binary_cross_entropy_with_logits(a.t(0), a.t(1), a.optT(2), a.optT(4),
                                                                reduction(a.str(3)))),
    BS_OP("mseLoss", at::mse_loss(a.t(0), a.t(1), reduction(a.str(2)))),
};

}  // namespace

void registerNnOps(Napi::Env env, Napi::Object exports) {
  registerOps(env, exports, kEntries, sizeof(kEntries) / sizeof(kEntries[0]));
}

}  // namespace bs
