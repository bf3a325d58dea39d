// Shared helpers of the engine addon: tensor handles and argument decoding.
// The addon only exposes libtorch primitives; all logic lives in TypeScript.
#pragma once

#include <napi.h>
#include <torch/torch.h>

#include <string>
#include <vector>

namespace bs {

// A JS tensor handle is a Napi::External<Holder>. dispose() empties the holder
// early; the finalizer deletes it when the JS object is collected.
struct Holder {
  at::Tensor tensor;
  int64_t countedBytes = 0;
};

Napi::Value wrap(Napi::Env env, at::Tensor tensor);
Napi::Value wrapList(Napi::Env env, const std::vector<at::Tensor>& tensors);
at::Tensor& unwrap(const Napi::Value& value);
void release(Napi::Env env, Holder* holder);

at::ScalarType parseDtype(const std::string& name);
std::string dtypeName(at::ScalarType type);

// Positional argument decoding with errors that name the position and the expected type.
class Args {
 public:
  explicit Args(const Napi::CallbackInfo& info) : info_(info) {}
  Napi::Env env() const { return info_.Env(); }
  bool has(size_t i) const { return i < info_.Length() && !info_[i].IsUndefined() && !info_[i].IsNull(); }
  bool isTensor(size_t i) const { return has(i) && info_[i].IsExternal(); }
  Napi::Value raw(size_t i) const { return info_[i]; }
  at::Tensor& t(size_t i) const;
  c10::optional<at::Tensor> optT(size_t i) const;
  int64_t i64(size_t i) const;
  double f64(size_t i) const;
  bool b(size_t i) const;
  std::string str(size_t i) const;
  std::vector<int64_t> ints(size_t i) const;
  std::vector<double> doubles(size_t i) const;
  std::vector<at::Tensor> tensors(size_t i) const;
  at::Scalar scalar(size_t i) const;
  c10::optional<at::Scalar> optScalar(size_t i) const;
  at::ScalarType dtype(size_t i) const { return parseDtype(str(i)); }
  at::TensorOptions options(size_t dtypeIndex, size_t deviceIndex) const;
  Napi::Value ret(const at::Tensor& t) const { return wrap(env(), t); }
  Napi::Value ret(const std::vector<at::Tensor>& ts) const { return wrapList(env(), ts); }
  Napi::Value ret(const std::tuple<at::Tensor, at::Tensor>& pair) const {
    return wrapList(env(), {std::get<0>(pair), std::get<1>(pair)});
  }
  Napi::Value undefined() const { return env().Undefined(); }

 private:
  [[noreturn]] void fail(size_t i, const char* expected) const;
  const Napi::CallbackInfo& info_;
};

using OpFn = Napi::Value (*)(Args&);
struct OpEntry {
  const char* name;
  OpFn fn;
};

// Registers each entry as exports[name], with libtorch errors turned into JS errors.
void registerOps(Napi::Env env, Napi::Object exports, const OpEntry* entries, size_t count);

void registerTensorOps(Napi::Env env, Napi::Object exports);
void registerMathOps(Napi::Env env, Napi::Object exports);
void registerNnOps(Napi::Env env, Napi::Object exports);
void registerRuntime(Napi::Env env, Napi::Object exports);
void registerDist(Napi::Env env, Napi::Object exports);

}  // namespace bs

#define BS_OP(NAME, EXPR) \
  { NAME, [](::bs::Args& a) -> Napi::Value { return a.ret(EXPR); } }
#define BS_VOID(NAME, STMT)                       \
  {                                               \
    NAME, [](::bs::Args& a) -> Napi::Value {      \
      STMT;                                       \
      return a.undefined();                       \
    }                                             \
  }
