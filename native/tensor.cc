// Tensor handles, argument decoding, creation, metadata, views and autograd.
#include <cstring>

#include "common.h"

namespace bs {

namespace {

int64_t storageBytes(const at::Tensor& t) {
  // Only fresh storage is reported to V8, so that views do not count twice.
  if (!t.defined() || !t.has_storage()) return 0;
  const auto& storage = t.storage();
  if (storage.use_count() != 1) return 0;
  return static_cast<int64_t>(storage.nbytes());
}

void finalize(Napi::Env env, Holder* holder) {
  release(env, holder);
  delete holder;
}

}  // namespace

void release(Napi::Env env, Holder* holder) {
  if (holder->countedBytes != 0) {
    Napi::MemoryManagement::AdjustExternalMemory(env, -holder->countedBytes);
    holder->countedBytes = 0;
  }
  holder->tensor.reset();
}

Napi::Value wrap(Napi::Env env, at::Tensor tensor) {
  auto* holder = new Holder{std::move(tensor), 0};
  holder->countedBytes = storageBytes(holder->tensor);
  if (holder->countedBytes != 0) Napi::MemoryManagement::AdjustExternalMemory(env, holder->countedBytes);
  return Napi::External<Holder>::New(env, holder, finalize);
}

Napi::Value wrapList(Napi::Env env, const std::vector<at::Tensor>& tensors) {
  auto array = Napi::Array::New(env, tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) array.Set(static_cast<uint32_t>(i), wrap(env, tensors[i]));
  return array;
}

at::Tensor& unwrap(const Napi::Value& value) {
  if (!value.IsExternal()) throw std::invalid_argument("expected a tensor handle");
  auto* holder = value.As<Napi::External<Holder>>().Data();
  if (!holder->tensor.defined()) throw std::invalid_argument("tensor was disposed");
  return holder->tensor;
}

at::ScalarType parseDtype(const std::string& name) {
  if (name == "float32") return at::kFloat;
  if (name == "float64") return at::kDouble;
  if (name == "float16") return at::kHalf;
  if (name == "bfloat16") return at::kBFloat16;
  if (name == "int64") return at::kLong;
  if (name == "int32") return at::kInt;
  if (name == "int16") return at::kShort;
  if (name == "int8") return at::kChar;
  if (name == "uint8") return at::kByte;
  if (name == "bool") return at::kBool;
  throw std::invalid_argument("unknown dtype '" + name + "'");
}

std::string dtypeName(at::ScalarType type) {
  switch (type) {
    case at::kFloat: return "float32";
    case at::kDouble: return "float64";
    case at::kHalf: return "float16";
    case at::kBFloat16: return "bfloat16";
    case at::kLong: return "int64";
    case at::kInt: return "int32";
    case at::kShort: return "int16";
    case at::kChar: return "int8";
    case at::kByte: return "uint8";
    case at::kBool: return "bool";
    default: return c10::toString(type);
  }
}

// ---- Args ----

void Args::fail(size_t i, const char* expected) const {
  throw std::invalid_argument("argument " + std::to_string(i) + ": expected " + expected);
}

at::Tensor& Args::t(size_t i) const {
  if (!isTensor(i)) fail(i, "a tensor");
  return unwrap(info_[i]);
}

c10::optional<at::Tensor> Args::optT(size_t i) const {
  if (!has(i)) return c10::nullopt;
  return t(i);
}

int64_t Args::i64(size_t i) const {
  if (!has(i) || !info_[i].IsNumber()) fail(i, "an integer");
  return info_[i].As<Napi::Number>().Int64Value();
}

double Args::f64(size_t i) const {
  if (!has(i) || !info_[i].IsNumber()) fail(i, "a number");
  return info_[i].As<Napi::Number>().DoubleValue();
}

bool Args::b(size_t i) const {
  if (!has(i) || !info_[i].IsBoolean()) fail(i, "a boolean");
  return info_[i].As<Napi::Boolean>().Value();
}

std::string Args::str(size_t i) const {
  if (!has(i) || !info_[i].IsString()) fail(i, "a string");
  return info_[i].As<Napi::String>().Utf8Value();
}

std::vector<int64_t> Args::ints(size_t i) const {
  if (!has(i) || !info_[i].IsArray()) fail(i, "an array of integers");
  auto array = info_[i].As<Napi::Array>();
  std::vector<int64_t> out(array.Length());
  for (uint32_t k = 0; k < array.Length(); ++k) {
    Napi::Value v = array[k];
    if (!v.IsNumber()) fail(i, "an array of integers");
    out[k] = v.As<Napi::Number>().Int64Value();
  }
  return out;
}

std::vector<double> Args::doubles(size_t i) const {
  if (!has(i) || !info_[i].IsArray()) fail(i, "an array of numbers");
  auto array = info_[i].As<Napi::Array>();
  std::vector<double> out(array.Length());
  for (uint32_t k = 0; k < array.Length(); ++k) {
    Napi::Value v = array[k];
    if (!v.IsNumber()) fail(i, "an array of numbers");
    out[k] = v.As<Napi::Number>().DoubleValue();
  }
  return out;
}

std::vector<at::Tensor> Args::tensors(size_t i) const {
  if (!has(i) || !info_[i].IsArray()) fail(i, "an array of tensors");
  auto array = info_[i].As<Napi::Array>();
  std::vector<at::Tensor> out;
  out.reserve(array.Length());
  for (uint32_t k = 0; k < array.Length(); ++k) out.push_back(unwrap(array[k]));
  return out;
}

at::Scalar Args::scalar(size_t i) const {
  if (has(i) && info_[i].IsBoolean()) return at::Scalar(info_[i].As<Napi::Boolean>().Value());
  if (!has(i) || !info_[i].IsNumber()) fail(i, "a number");
  double v = info_[i].As<Napi::Number>().DoubleValue();
  // Integral JS numbers stay integral so that integer tensors keep their dtype.
  if (std::nearbyint(v) == v && std::fabs(v) < 9.007199254740992e15) return at::Scalar(static_cast<int64_t>(v));
  return at::Scalar(v);
}

c10::optional<at::Scalar> Args::optScalar(size_t i) const {
  if (!has(i)) return c10::nullopt;
  return scalar(i);
}

at::TensorOptions Args::options(size_t dtypeIndex, size_t deviceIndex) const {
  auto opts = at::TensorOptions().dtype(has(dtypeIndex) ? dtype(dtypeIndex) : at::kFloat);
  if (has(deviceIndex)) opts = opts.device(at::Device(str(deviceIndex)));
  return opts;
}

// ---- registration ----

namespace {

Napi::Value trampoline(const Napi::CallbackInfo& info) {
  auto fn = reinterpret_cast<OpFn>(info.Data());
  try {
    Args args(info);
    return fn(args);
  } catch (const Napi::Error&) {
    throw;
  } catch (const c10::Error& e) {
    throw Napi::Error::New(info.Env(), e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), e.what());
  }
}

}  // namespace

void registerOps(Napi::Env env, Napi::Object exports, const OpEntry* entries, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    exports.Set(entries[i].name,
                Napi::Function::New(env, trampoline, entries[i].name, reinterpret_cast<void*>(entries[i].fn)));
  }
}

// ---- creation, metadata, views, autograd ----

namespace {

Napi::Value fromArray(Args& a) {
  // fromArray(typedArray, shape, dtype, device): copies the JS data into a new tensor.
  if (!a.raw(0).IsTypedArray()) throw std::invalid_argument("argument 0: expected a typed array");
  auto array = a.raw(0).As<Napi::TypedArray>();
  auto shape = a.ints(1);
  auto type = a.dtype(2);
  auto bytes = array.ByteLength();
  int64_t numel = 1;
  for (auto s : shape) numel *= s;
  const int64_t expected = numel * static_cast<int64_t>(c10::elementSize(type));
  if (static_cast<int64_t>(bytes) != expected) {
    throw std::invalid_argument("data has " + std::to_string(bytes) + " bytes, shape and dtype need " +
                                std::to_string(expected));
  }
  auto* data = static_cast<uint8_t*>(array.ArrayBuffer().Data()) + array.ByteOffset();
  auto tensor = at::empty(shape, at::TensorOptions().dtype(type));
  if (bytes > 0) std::memcpy(tensor.data_ptr(), data, bytes);
  if (a.has(3)) tensor = tensor.to(at::Device(a.str(3)));
  return a.ret(tensor);
}

Napi::Value toBytes(Args& a) {
  // Returns an ArrayBuffer holding the tensor's elements in row-major order.
  auto tensor = a.t(0).detach().to(at::kCPU).contiguous();
  const size_t bytes = tensor.numel() * tensor.element_size();
  auto buffer = Napi::ArrayBuffer::New(a.env(), bytes);
  if (bytes > 0) std::memcpy(buffer.Data(), tensor.data_ptr(), bytes);
  return buffer;
}

Napi::Value meta(Args& a) {
  // One call returns everything the TypeScript Tensor caches.
  auto& t = a.t(0);
  auto obj = Napi::Object::New(a.env());
  auto shape = Napi::Array::New(a.env(), t.dim());
  for (int64_t d = 0; d < t.dim(); ++d) shape.Set(static_cast<uint32_t>(d), Napi::Number::New(a.env(), t.size(d)));
  obj.Set("shape", shape);
  obj.Set("dtype", dtypeName(t.scalar_type()));
  obj.Set("device", t.device().str());
  return obj;
}

Napi::Value item(Args& a) {
  auto& t = a.t(0);
  if (t.numel() != 1) throw std::invalid_argument("item() needs a tensor with one element, got " + std::to_string(t.numel()));
  if (t.scalar_type() == at::kBool) return Napi::Boolean::New(a.env(), t.item<bool>());
  return Napi::Number::New(a.env(), t.item<double>());
}

Napi::Value dispose(Args& a) {
  if (!a.isTensor(0)) throw std::invalid_argument("argument 0: expected a tensor");
  release(a.env(), a.raw(0).As<Napi::External<Holder>>().Data());
  return a.undefined();
}

Napi::Value isDisposed(Args& a) {
  if (!a.isTensor(0)) throw std::invalid_argument("argument 0: expected a tensor");
  return Napi::Boolean::New(a.env(), !a.raw(0).As<Napi::External<Holder>>().Data()->tensor.defined());
}

Napi::Value grad(Args& a) {
  auto g = a.t(0).grad();
  if (!g.defined()) return a.env().Null();
  return a.ret(g);
}

Napi::Value autogradGrad(Args& a) {
  // autogradGrad(outputs[], inputs[], gradOutputs[]|null, retainGraph, createGraph)
  std::vector<at::Tensor> gradOutputs;
  if (a.has(2)) gradOutputs = a.tensors(2);
  auto grads = torch::autograd::grad(a.tensors(0), a.tensors(1), gradOutputs, a.b(3), a.b(4), true);
  auto array = Napi::Array::New(a.env(), grads.size());
  for (size_t i = 0; i < grads.size(); ++i) {
    array.Set(static_cast<uint32_t>(i), grads[i].defined() ? wrap(a.env(), grads[i]) : a.env().Null());
  }
  return array;
}

Napi::Value sliceOp(Args& a) {
  // slice(t, dim, start, end|null, step)
  c10::optional<int64_t> end;
  if (a.has(3)) end = a.i64(3);
  return a.ret(a.t(0).slice(a.i64(1), a.i64(2), end, a.has(4) ? a.i64(4) : 1));
}

Napi::Value padOp(Args& a) {
  // pad(t, pads, mode, value): pads as in torch.nn.functional.pad (last dim first).
  namespace F = torch::nn::functional;
  auto mode = a.str(2);
  auto opts = F::PadFuncOptions(a.ints(1));
  if (mode == "constant") opts = opts.mode(torch::kConstant).value(a.has(3) ? a.f64(3) : 0.0);
  else if (mode == "reflect") opts = opts.mode(torch::kReflect);
  else if (mode == "replicate") opts = opts.mode(torch::kReplicate);
  else if (mode == "circular") opts = opts.mode(torch::kCircular);
  else throw std::invalid_argument("pad: unknown mode '" + mode + "'");
  return a.ret(F::pad(a.t(0), opts));
}

Napi::Value maxDim(Args& a) { return a.ret(at::max(a.t(0), a.i64(1), a.b(2))); }
Napi::Value minDim(Args& a) { return a.ret(at::min(a.t(0), a.i64(1), a.b(2))); }

const OpEntry kEntries[] = {
    {"fromArray", fromArray},
    {"toBytes", toBytes},
    {"meta", meta},
    {"item", item},
    {"dispose", dispose},
    {"isDisposed", isDisposed},
    // creation
    BS_OP("zeros", at::zeros(a.ints(0), a.options(1, 2))),
    BS_OP("ones", at::ones(a.ints(0), a.options(1, 2))),
    BS_OP("full", at::full(a.ints(0), a.scalar(1), a.options(2, 3))),
    BS_OP("empty", at::empty(a.ints(0), a.options(1, 2))),
    BS_OP("arange", at::arange(a.scalar(0), a.scalar(1), a.scalar(2), a.options(3, 4))),
    BS_OP("linspace", at::linspace(a.scalar(0), a.scalar(1), a.i64(2), a.options(3, 4))),
    BS_OP("eye", at::eye(a.i64(0), a.options(1, 2))),
    BS_OP("rand", at::rand(a.ints(0), a.options(1, 2))),
    BS_OP("randn", at::randn(a.ints(0), a.options(1, 2))),
    BS_OP("randint", at::randint(a.i64(0), a.i64(1), a.ints(2), a.options(3, 4))),
    BS_OP("randperm", at::randperm(a.i64(0), a.options(1, 2))),
    BS_OP("bernoulli", at::bernoulli(a.t(0))),
    BS_OP("multinomial", at::multinomial(a.t(0), a.i64(1), a.b(2))),
    BS_OP("scalarTensor", at::scalar_tensor(a.scalar(0), a.options(1, 2))),
    // conversion
    BS_OP("toDtype", a.t(0).to(a.dtype(1))),
    BS_OP("toDevice", a.t(0).to(at::Device(a.str(1)), a.has(2) && a.b(2))),
    BS_OP("clone", a.t(0).clone()),
    BS_OP("contiguous", a.t(0).contiguous()),
    // views and shape
    BS_OP("reshape", a.t(0).reshape(a.ints(1))),
    BS_OP("view", a.t(0).view(a.ints(1))),
    BS_OP("permute", a.t(0).permute(a.ints(1))),
    BS_OP("transpose", a.t(0).transpose(a.i64(1), a.i64(2))),
    BS_OP("squeeze", a.has(1) ? a.t(0).squeeze(a.i64(1)) : a.t(0).squeeze()),
    BS_OP("unsqueeze", a.t(0).unsqueeze(a.i64(1))),
    BS_OP("flatten", a.t(0).flatten(a.i64(1), a.i64(2))),
    BS_OP("expand", a.t(0).expand(a.ints(1))),
    BS_OP("flip", a.t(0).flip(a.ints(1))),
    BS_OP("roll", a.t(0).roll(a.ints(1), a.ints(2))),
    BS_OP("repeat", a.t(0).repeat(a.ints(1))),
    BS_OP("narrow", a.t(0).narrow(a.i64(1), a.i64(2), a.i64(3))),
    {"slice", sliceOp},
    BS_OP("select", a.t(0).select(a.i64(1), a.i64(2))),
    BS_OP("indexSelect", a.t(0).index_select(a.i64(1), a.t(2))),
    BS_OP("gather", a.t(0).gather(a.i64(1), a.t(2))),
    BS_OP("scatter", a.t(0).scatter(a.i64(1), a.t(2), a.t(3))),
    BS_OP("scatterAdd", a.t(0).scatter_add(a.i64(1), a.t(2), a.t(3))),
    BS_OP("maskedFill", a.t(0).masked_fill(a.t(1), a.scalar(2))),
    BS_OP("maskedSelect", a.t(0).masked_select(a.t(1))),
    BS_OP("nonzero", a.t(0).nonzero()),
    BS_OP("cat", at::cat(a.tensors(0), a.i64(1))),
    BS_OP("stack", at::stack(a.tensors(0), a.i64(1))),
    BS_OP("split", at::split(a.t(0), a.i64(1), a.i64(2))),
    BS_OP("chunk", at::chunk(a.t(0), a.i64(1), a.i64(2))),
    BS_OP("unbind", at::unbind(a.t(0), a.i64(1))),
    {"pad", padOp},
    // in place
    BS_VOID("copy_", a.t(0).copy_(a.t(1))),
    BS_VOID("fill_", a.t(0).fill_(a.scalar(1))),
    BS_VOID("zero_", a.t(0).zero_()),
    BS_VOID("addScaled_", a.t(0).add_(a.t(1), a.scalar(2))),
    BS_VOID("mul_", a.isTensor(1) ? a.t(0).mul_(a.t(1)) : a.t(0).mul_(a.scalar(1))),
    BS_VOID("clamp_", a.t(0).clamp_(a.optScalar(1), a.optScalar(2))),
    // sorting and selection
    BS_OP("topk", at::topk(a.t(0), a.i64(1), a.i64(2), a.b(3), a.b(4))),
    BS_OP("sort", at::sort(a.t(0), a.i64(1), a.b(2))),
    {"maxDim", maxDim},
    {"minDim", minDim},
    BS_OP("argmax", at::argmax(a.t(0), a.has(1) ? c10::optional<int64_t>(a.i64(1)) : c10::nullopt, a.b(2))),
    BS_OP("argmin", at::argmin(a.t(0), a.has(1) ? c10::optional<int64_t>(a.i64(1)) : c10::nullopt, a.b(2))),
    BS_OP("where", at::where(a.t(0), a.t(1), a.t(2))),
    BS_OP("oneHot", at::one_hot(a.t(0), a.i64(1))),
    BS_OP("bincount", at::bincount(a.t(0), a.optT(1), a.i64(2))),
    // autograd
    BS_VOID("backward", a.t(0).backward(a.has(1) ? a.t(1) : at::Tensor(), a.has(2) ? c10::optional<bool>(a.b(2)) : c10::nullopt)),
    {"grad", grad},
    BS_VOID("zeroGrad", a.t(0).mutable_grad().reset()),
    BS_VOID("setRequiresGrad", a.t(0).requires_grad_(a.b(1))),
    {"requiresGrad", [](Args& a) -> Napi::Value { return Napi::Boolean::New(a.env(), a.t(0).requires_grad()); }},
    {"isLeaf", [](Args& a) -> Napi::Value { return Napi::Boolean::New(a.env(), a.t(0).is_leaf()); }},
    BS_OP("detach", a.t(0).detach()),
    {"autogradGrad", autogradGrad},
    {"gradEnabled", [](Args& a) -> Napi::Value { return Napi::Boolean::New(a.env(), at::GradMode::is_enabled()); }},
    BS_VOID("setGradEnabled", at::GradMode::set_enabled(a.b(0))),
};

}  // namespace

void registerTensorOps(Napi::Env env, Napi::Object exports) {
  registerOps(env, exports, kEntries, sizeof(kEntries) / sizeof(kEntries[0]));
}

}  // namespace bs
