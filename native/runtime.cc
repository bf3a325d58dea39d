// Runtime settings (threads, seeds, devices, autocast), optimisers and the module entry point.
#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <sstream>

#include "common.h"

#define BS_TORCH_AT_LEAST(MAJOR, MINOR) \
  (TORCH_VERSION_MAJOR > (MAJOR) || (TORCH_VERSION_MAJOR == (MAJOR) && TORCH_VERSION_MINOR >= (MINOR)))

// OpenMP's dynamic adjustment (OMP_DYNAMIC=true in the environment) sizes each parallel region by the
// machine's load average, so a busy machine splits reductions differently and trains other floats (#20).
// Resolved weakly through libtorch's own OpenMP runtime (pip wheels bundle theirs); null without OpenMP.
extern "C" void omp_set_dynamic(int) __attribute__((weak));
extern "C" int omp_get_dynamic() __attribute__((weak));

namespace bs {
namespace {

// The OpenMP settings are per thread: set on the thread that will run the ops (a worker's, too).
void setNumThreads(int n) {
  if (omp_set_dynamic) omp_set_dynamic(0);
  at::set_num_threads(n);
}

Napi::Value info(Args& a) {
  auto env = a.env();
  auto obj = Napi::Object::New(env);
  obj.Set("version", TORCH_VERSION);
  obj.Set("cudaAvailable", torch::cuda::is_available());
  obj.Set("cudaDeviceCount", static_cast<double>(torch::cuda::device_count()));
  obj.Set("cudnnAvailable", torch::cuda::cudnn_is_available());
  obj.Set("mkldnnAvailable", at::globalContext().hasMKLDNN());
  obj.Set("threads", at::get_num_threads());
  obj.Set("interopThreads", at::get_num_interop_threads());
  obj.Set("cxx11Abi", static_cast<bool>(_GLIBCXX_USE_CXX11_ABI));
  obj.Set("parallelInfo", at::get_parallel_info());
  if (omp_get_dynamic) obj.Set("ompDynamic", omp_get_dynamic() != 0);
  return obj;
}

void setAutocast(bool enabled, const std::string& dtype) {
  const auto type = parseDtype(dtype);
#if BS_TORCH_AT_LEAST(2, 4)
  at::autocast::set_autocast_enabled(at::kCUDA, enabled);
  at::autocast::set_autocast_dtype(at::kCUDA, type);
#else
  at::autocast::set_enabled(enabled);
  at::autocast::set_autocast_gpu_dtype(type);
#endif
  // Casts are cached only inside one autocast region, as in torch.autocast.
  if (enabled) {
    at::autocast::increment_nesting();
  } else if (at::autocast::decrement_nesting() == 0) {
    at::autocast::clear_cache();
  }
}

// torch.use_deterministic_algorithms(warn_only=True) plus cuDNN's deterministic mode without autotuning.
void setDeterministic(bool enabled) {
  at::globalContext().setDeterministicAlgorithms(enabled, true);
  at::globalContext().setDeterministicCuDNN(enabled);
  if (enabled) at::globalContext().setBenchmarkCuDNN(false);
}

// ---- optimisers ----

struct OptimizerHolder {
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  bool sgd = false;
};

OptimizerHolder& optimizer(Args& a, size_t i) {
  if (!a.has(i) || !a.raw(i).IsExternal()) throw std::invalid_argument("expected an optimizer handle");
  auto* holder = a.raw(i).As<Napi::External<OptimizerHolder>>().Data();
  if (!holder->optimizer) throw std::invalid_argument("optimizer was disposed");
  return *holder;
}

double numberOption(const Napi::Object& options, const char* key, double fallback) {
  Napi::Value v = options.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : fallback;
}

bool boolOption(const Napi::Object& options, const char* key, bool fallback) {
  Napi::Value v = options.Get(key);
  return v.IsBoolean() ? v.As<Napi::Boolean>().Value() : fallback;
}

Napi::Value optimCreate(Args& a) {
  // optimCreate(kind, params[], options)
  auto kind = a.str(0);
  auto params = a.tensors(1);
  if (!a.raw(2).IsObject()) throw std::invalid_argument("argument 2: expected an options object");
  auto options = a.raw(2).As<Napi::Object>();
  const double lr = numberOption(options, "lr", 1e-3);
  auto holder = std::make_unique<OptimizerHolder>();
  if (kind == "sgd") {
    auto opts = torch::optim::SGDOptions(lr)
                    .momentum(numberOption(options, "momentum", 0.0))
                    .dampening(numberOption(options, "dampening", 0.0))
                    .weight_decay(numberOption(options, "weightDecay", 0.0))
                    .nesterov(boolOption(options, "nesterov", false));
    holder->optimizer = std::make_unique<torch::optim::SGD>(params, opts);
    holder->sgd = true;
  } else if (kind == "adamw") {
    auto opts = torch::optim::AdamWOptions(lr)
                    .betas({numberOption(options, "beta1", 0.9), numberOption(options, "beta2", 0.999)})
                    .eps(numberOption(options, "eps", 1e-8))
                    .weight_decay(numberOption(options, "weightDecay", 1e-2))
                    .amsgrad(boolOption(options, "amsgrad", false));
    holder->optimizer = std::make_unique<torch::optim::AdamW>(params, opts);
  } else {
    throw std::invalid_argument("unknown optimizer '" + kind + "' (sgd, adamw)");
  }
  return Napi::External<OptimizerHolder>::New(a.env(), holder.release(),
                                              [](Napi::Env, OptimizerHolder* h) { delete h; });
}

Napi::Value optimZeroGrad(Args& a) {
  // Gradients become undefined (set_to_none), the same on libtorch 1.13 and 2.x.
  for (auto& group : optimizer(a, 0).optimizer->param_groups()) {
    for (auto& p : group.params()) p.mutable_grad().reset();
  }
  return a.undefined();
}

Napi::Value optimSetLr(Args& a) {
  const double lr = a.f64(1);
  for (auto& group : optimizer(a, 0).optimizer->param_groups()) group.options().set_lr(lr);
  return a.undefined();
}

Napi::Value optimSave(Args& a) {
  torch::serialize::OutputArchive archive;
  optimizer(a, 0).optimizer->save(archive);
  std::ostringstream stream;
  archive.save_to(stream);
  auto bytes = stream.str();
  auto buffer = Napi::Buffer<char>::Copy(a.env(), bytes.data(), bytes.size());
  return buffer;
}

Napi::Value optimLoad(Args& a) {
  if (!a.raw(1).IsBuffer()) throw std::invalid_argument("argument 1: expected a Buffer");
  auto buffer = a.raw(1).As<Napi::Buffer<char>>();
  std::istringstream stream(std::string(buffer.Data(), buffer.Length()));
  torch::serialize::InputArchive archive;
  archive.load_from(stream);
  optimizer(a, 0).optimizer->load(archive);
  return a.undefined();
}

Napi::Value optimDispose(Args& a) {
  optimizer(a, 0).optimizer.reset();
  return a.undefined();
}


std::vector<at::Tensor> definedGrads(const std::vector<at::Tensor>& params) {
  std::vector<at::Tensor> grads;
  for (const auto& p : params) {
    if (p.grad().defined()) grads.push_back(p.grad());
  }
  return grads;
}

// torch::optim keys parameter state by the TensorImpl pointer: as a string before libtorch 2.x,
// as the pointer itself after.
template <typename Key>
Key stateKey(const at::Tensor& p) {
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream out;
    out << p.unsafeGetTensorImpl();
    return out.str();
  } else {
    return p.unsafeGetTensorImpl();
  }
}

// torch::optim::SGD::step's arithmetic with multi-tensor (_foreach) kernels: a handful of launches
// per step instead of five per parameter. Momentum buffers live in the optimiser's own state, so
// save/load stays torch::optim's format.
void sgdStep(torch::optim::SGD& sgd) {
  at::NoGradGuard noGrad;
  auto& state = sgd.state();
  using Key = typename std::decay_t<decltype(state)>::key_type;
  for (auto& group : sgd.param_groups()) {
    const auto& o = static_cast<const torch::optim::SGDOptions&>(group.options());
    std::vector<at::Tensor> params, grads;
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      params.push_back(p);
      grads.push_back(p.grad());
    }
    if (params.empty()) continue;
    std::vector<at::Tensor> steps = o.weight_decay() != 0 ? at::_foreach_add(grads, params, o.weight_decay()) : grads;
    if (o.momentum() != 0) {
      std::vector<at::Tensor> buffers, existing, existingSteps;
      for (size_t i = 0; i < params.size(); ++i) {
        auto key = stateKey<Key>(params[i]);
        auto found = state.find(key);
        if (found == state.end()) {
          auto fresh = std::make_unique<torch::optim::SGDParamState>();
          fresh->momentum_buffer(steps[i].clone().detach());
          buffers.push_back(fresh->momentum_buffer());
          state[key] = std::move(fresh);
        } else {
          auto& buffer = static_cast<torch::optim::SGDParamState&>(*found->second).momentum_buffer();
          existing.push_back(buffer);
          existingSteps.push_back(steps[i]);
          buffers.push_back(buffer);
        }
      }
      if (!existing.empty()) {
        at::_foreach_mul_(existing, o.momentum());
        at::_foreach_add_(existing, existingSteps, 1 - o.dampening());
      }
      steps = o.nesterov() ? at::_foreach_add(steps, buffers, o.momentum()) : buffers;
    }
    at::_foreach_add_(params, steps, -o.lr());
  }
}

Napi::Value optimStep(Args& a) {
  auto& holder = optimizer(a, 0);
  if (holder.sgd) {
    sgdStep(static_cast<torch::optim::SGD&>(*holder.optimizer));
  } else {
    holder.optimizer->step();
  }
  return a.undefined();
}

Napi::Value clipGradNorm(Args& a) {
  // clipGradNorm(params[], maxNorm) -> total norm (0-d float32 tensor), gradients scaled in place.
  at::NoGradGuard noGrad;
  auto grads = definedGrads(a.tensors(0));
  if (grads.empty()) return a.ret(at::zeros({}, at::kFloat));
#if BS_TORCH_AT_LEAST(2, 0)
  auto norms = at::_foreach_norm(grads, 2);
#else
  std::vector<at::Tensor> norms;
  for (const auto& g : grads) norms.push_back(at::norm(g, 2));
#endif
  for (auto& n : norms) n = n.to(at::kFloat);
  auto total = at::stack(norms).norm(2);
  auto coefficient = (a.f64(1) / (total + 1e-6)).clamp_max(1.0);
#if BS_TORCH_AT_LEAST(2, 1)
  at::_foreach_mul_(grads, coefficient);
#else
  for (auto& g : grads) g.mul_(coefficient.to(g.scalar_type()));
#endif
  return a.ret(total);
}

Napi::Value ampUnscale(Args& a) {
  // ampUnscale(params[], invScale) -> foundInf (1-element float32): gradients multiplied by invScale
  // in one fused CUDA kernel, as torch.cuda.amp.GradScaler.unscale_ does.
  at::NoGradGuard noGrad;
  auto grads = definedGrads(a.tensors(0));
  auto& invScale = a.t(1);
  auto foundInf = at::zeros({1}, invScale.options());
  if (!grads.empty()) at::_amp_foreach_non_finite_check_and_unscale_(grads, foundInf, invScale);
  return a.ret(foundInf);
}

// The CPU generator's state, so that a resumed run draws the same random numbers.
Napi::Value getRngState(Args& a) {
  auto generator = at::globalContext().defaultGenerator(at::kCPU);
  std::lock_guard<std::mutex> lock(generator.mutex());
  return a.ret(generator.get_state());
}

Napi::Value setRngState(Args& a) {
  auto generator = at::globalContext().defaultGenerator(at::kCPU);
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_state(a.t(0));
  return a.undefined();
}

const OpEntry kEntries[] = {
    {"info", info},
    {"getRngState", getRngState},
    {"setRngState", setRngState},
    BS_VOID("setNumThreads", setNumThreads(static_cast<int>(a.i64(0)))),
    BS_VOID("manualSeed", torch::manual_seed(static_cast<uint64_t>(a.i64(0)))),
    BS_VOID("setCudnnBenchmark", at::globalContext().setBenchmarkCuDNN(a.b(0))),
    BS_VOID("setDeterministic", setDeterministic(a.b(0))),
    BS_VOID("cudaSynchronize", torch::cuda::synchronize(a.has(0) ? a.i64(0) : -1)),
    BS_VOID("setAutocast", setAutocast(a.b(0), a.str(1))),
    {"optimCreate", optimCreate},
    {"optimStep", optimStep},
    {"clipGradNorm", clipGradNorm},
    {"ampUnscale", ampUnscale},
    {"optimZeroGrad", optimZeroGrad},
    {"optimSetLr", optimSetLr},
    {"optimSave", optimSave},
    {"optimLoad", optimLoad},
    {"optimDispose", optimDispose},
};

}  // namespace

void registerRuntime(Napi::Env env, Napi::Object exports) {
  registerOps(env, exports, kEntries, sizeof(kEntries) / sizeof(kEntries[0]));
}

}  // namespace bs

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  bs::registerTensorOps(env, exports);
  bs::registerMathOps(env, exports);
  bs::registerNnOps(env, exports);
  bs::registerRuntime(env, exports);
  bs::registerDist(env, exports);
  return exports;
}

NODE_API_MODULE(backsplit_engine, Init)
