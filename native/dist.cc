// c10d collectives: a process group over libtorch's own TCPStore with Gloo (CPU tensors) or NCCL
// (CUDA tensors). Rendezvous, ranks and launchers are TypeScript's business; this file only wraps
// the c10d calls. Built with USE_C10D_GLOO / USE_C10D_NCCL when the libtorch exports them (see
// scripts/build-native.mjs); without them every call says so.
#include <torch/version.h>

#include <chrono>
#include <map>
#include <mutex>
#include <memory>
#include <string>

#include "common.h"

#if defined(USE_C10D_GLOO) || defined(USE_C10D_NCCL)
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif
#ifdef USE_C10D_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace bs {
namespace {

#if defined(USE_C10D_GLOO) || defined(USE_C10D_NCCL)

// Gloo and NCCL share a base class: ProcessGroup in libtorch 1.x, Backend from 2.0 on.
#if TORCH_VERSION_MAJOR >= 2
using GroupBase = c10d::Backend;
#else
using GroupBase = c10d::ProcessGroup;
#endif

struct GroupHolder {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<GroupBase> group;
  std::chrono::milliseconds timeout{0};
};

// A collective over a list of tensors runs on one flat buffer (a "bucket"): Gloo reduces a list as
// copies of one tensor, so different-sized tensors are concatenated and copied back by wait().
struct WorkHolder {
  c10::intrusive_ptr<c10d::Work> work;
  std::vector<at::Tensor> tensors;
  at::Tensor flat;          // defined when the tensors were packed
  double scaleAfter = 1.0;  // "avg" is a sum then a scale: Gloo has no AVG reduction
  bool done = false;
};

at::Tensor pack(const std::vector<at::Tensor>& tensors) {
  if (tensors.empty()) throw std::invalid_argument("expected at least one tensor");
  std::vector<at::Tensor> flat;
  for (const auto& t : tensors) {
    if (t.scalar_type() != tensors[0].scalar_type() || t.device() != tensors[0].device()) {
      throw std::invalid_argument("the tensors of one collective must share dtype and device");
    }
    flat.push_back(t.detach().reshape(-1));
  }
  return at::cat(flat);
}

void unpack(WorkHolder& h) {
  at::NoGradGuard noGrad;
  if (h.flat.defined()) {
    int64_t offset = 0;
    for (auto& t : h.tensors) {
      const auto n = t.numel();
      t.detach().copy_(h.flat.narrow(0, offset, n).view_as(t));
      offset += n;
    }
  }
  if (h.scaleAfter != 1.0) {
    for (auto& t : h.tensors) t.detach().mul_(h.scaleAfter);
  }
}

GroupHolder& group(Args& a, size_t i) {
  if (!a.has(i) || !a.raw(i).IsExternal()) throw std::invalid_argument("expected a process-group handle");
  auto* holder = a.raw(i).As<Napi::External<GroupHolder>>().Data();
  if (!holder->group) throw std::invalid_argument("the process group was destroyed");
  return *holder;
}

std::string stringOption(const Napi::Object& o, const char* key, const std::string& fallback) {
  Napi::Value v = o.Get(key);
  return v.IsString() ? v.As<Napi::String>().Utf8Value() : fallback;
}

int64_t intOption(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) throw std::invalid_argument(std::string("option '") + key + "' must be a number");
  return v.As<Napi::Number>().Int64Value();
}

c10d::TCPStoreOptions storeOptions(const Napi::Object& o, int worldSize, std::chrono::milliseconds timeout,
                                   bool serveStore) {
  c10d::TCPStoreOptions options;
  options.port = static_cast<std::uint16_t>(intOption(o, "port"));
  options.isServer = serveStore;
  options.numWorkers = static_cast<std::size_t>(worldSize);
  options.waitWorkers = false;
  options.timeout = timeout;
  options.multiTenant = true;
  return options;
}

std::mutex storesMutex;

c10::intrusive_ptr<c10d::Store> sharedStore(const std::string& host, const c10d::TCPStoreOptions& options) {
  static std::map<std::string, c10::intrusive_ptr<c10d::Store>> stores;
  std::lock_guard<std::mutex> lock(storesMutex);
  const auto key = host + ":" + std::to_string(options.port);
  auto found = stores.find(key);
  if (found != stores.end()) return found->second;
  c10::intrusive_ptr<c10d::Store> store = c10::make_intrusive<c10d::TCPStore>(host, options);
  stores.emplace(key, store);
  return store;
}

int nextGroupNumber(const std::string& host, std::uint16_t port) {
  static std::map<std::string, int> counters;
  std::lock_guard<std::mutex> lock(storesMutex);
  return counters[host + ":" + std::to_string(port)]++;
}

Napi::Value distInit(Args& a) {
  // distInit({backend, host, port, rank, worldSize, timeoutMs, serveStore, prefix})
  if (!a.raw(0).IsObject()) throw std::invalid_argument("argument 0: expected an options object");
  auto o = a.raw(0).As<Napi::Object>();
  const auto backend = stringOption(o, "backend", "gloo");
  const auto host = stringOption(o, "host", "127.0.0.1");
  const auto prefix = stringOption(o, "prefix", "backsplit/");
  const int rank = static_cast<int>(intOption(o, "rank"));
  const int worldSize = static_cast<int>(intOption(o, "worldSize"));
  const auto timeout = std::chrono::milliseconds(intOption(o, "timeoutMs"));
  const bool serveStore = o.Get("serveStore").ToBoolean().Value();

  // One TCPStore per host:port for the whole process, and a fresh key prefix for every group made on
  // it: trainings one after another (an experiment under torchrun) never read an earlier group's keys,
  // and no rank can reach a store that rank 0 is about to close.
  const auto options = storeOptions(o, worldSize, timeout, serveStore);
  auto shared = sharedStore(host, options);
  c10::intrusive_ptr<c10d::Store> store =
      c10::make_intrusive<c10d::PrefixStore>(prefix + std::to_string(nextGroupNumber(host, options.port)) + "/", shared);
  auto holder = std::make_unique<GroupHolder>();
  holder->store = store;
  holder->timeout = timeout;
  if (backend == "gloo") {
#ifdef USE_C10D_GLOO
    auto options = c10d::ProcessGroupGloo::Options::create(timeout);
    const char* iface = std::getenv("GLOO_SOCKET_IFNAME");
    options->devices.push_back(iface != nullptr && *iface != '\0'
                                   ? c10d::ProcessGroupGloo::createDeviceForInterface(iface)
                                   : c10d::ProcessGroupGloo::createDefaultDevice());
    options->threads = 2;
    holder->group = c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, worldSize, options);
#else
    throw std::runtime_error("this engine was built without Gloo (the libtorch or its gloo headers lack it)");
#endif
  } else if (backend == "nccl") {
#ifdef USE_C10D_NCCL
    auto options = c10d::ProcessGroupNCCL::Options::create();
    options->timeout = timeout;
    holder->group = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, worldSize, options);
#else
    throw std::runtime_error("this engine was built without NCCL (it needs a CUDA libtorch with NCCL and nccl.h)");
#endif
  } else {
    throw std::invalid_argument("unknown backend '" + backend + "' (gloo, nccl)");
  }
  return Napi::External<GroupHolder>::New(a.env(), holder.release(), [](Napi::Env, GroupHolder* h) { delete h; });
}

Napi::Value wrapWork(Args& a, std::unique_ptr<WorkHolder> holder) {
  return Napi::External<WorkHolder>::New(a.env(), holder.release(), [](Napi::Env, WorkHolder* h) { delete h; });
}

// The one tensor a collective runs on: the tensor itself, or the packed copy of several.
std::vector<at::Tensor> operand(WorkHolder& h) {
  if (h.tensors.size() == 1 && h.tensors[0].is_contiguous()) return {h.tensors[0].detach()};
  h.flat = pack(h.tensors);
  return {h.flat};
}

Napi::Value distAllreduce(Args& a) {
  // distAllreduce(group, tensors[], "sum" | "avg" | "max" | "min") -> work (in place)
  auto& g = group(a, 0);
  auto tensors = a.tensors(1);
  if (tensors.empty()) throw std::invalid_argument("argument 1: expected at least one tensor");
  const auto op = a.has(2) ? a.str(2) : std::string("sum");
  c10d::AllreduceOptions options;
  double scale = 1.0;
  if (op == "sum" || op == "avg") {
    options.reduceOp = c10d::ReduceOp::SUM;
    if (op == "avg") scale = 1.0 / g.group->getSize();
  } else if (op == "max") {
    options.reduceOp = c10d::ReduceOp::MAX;
  } else if (op == "min") {
    options.reduceOp = c10d::ReduceOp::MIN;
  } else {
    throw std::invalid_argument("unknown reduction '" + op + "' (sum, avg, max, min)");
  }
  options.timeout = g.timeout;
  auto holder = std::make_unique<WorkHolder>();
  holder->tensors = std::move(tensors);
  holder->scaleAfter = scale;
  auto inputs = operand(*holder);
  holder->work = g.group->allreduce(inputs, options);
  return wrapWork(a, std::move(holder));
}

Napi::Value distBroadcast(Args& a) {
  // distBroadcast(group, tensors[], root) -> work (in place on every rank but the root)
  auto& g = group(a, 0);
  c10d::BroadcastOptions options;
  options.rootRank = static_cast<int64_t>(a.i64(2));
  options.rootTensor = 0;
  options.timeout = g.timeout;
  auto holder = std::make_unique<WorkHolder>();
  holder->tensors = a.tensors(1);
  auto inputs = operand(*holder);
  holder->work = g.group->broadcast(inputs, options);
  return wrapWork(a, std::move(holder));
}

Napi::Value distAllgather(Args& a) {
  // distAllgather(group, tensor) -> tensors[] (one per rank, synchronous)
  auto& g = group(a, 0);
  std::vector<at::Tensor> input{a.t(1)};
  std::vector<std::vector<at::Tensor>> output(1);
  for (int r = 0; r < g.group->getSize(); ++r) output[0].push_back(at::empty_like(input[0]));
  c10d::AllgatherOptions options;
  options.timeout = g.timeout;
  g.group->allgather(output, input, options)->wait(g.timeout);
  return a.ret(output[0]);
}

Napi::Value distBarrier(Args& a) {
  auto& g = group(a, 0);
  c10d::BarrierOptions options;
  options.timeout = g.timeout;
  g.group->barrier(options)->wait(g.timeout);
  return a.undefined();
}

Napi::Value distWait(Args& a) {
  // distWait(work): blocks until the collective is done (or throws its error / the timeout).
  if (!a.has(0) || !a.raw(0).IsExternal()) throw std::invalid_argument("expected a work handle");
  auto* holder = a.raw(0).As<Napi::External<WorkHolder>>().Data();
  if (holder->done) return a.undefined();
  holder->work->wait();
  unpack(*holder);
  holder->done = true;
  holder->tensors.clear();
  holder->flat = at::Tensor();
  return a.undefined();
}

Napi::Value distStoreSet(Args& a) {
  auto& g = group(a, 0);
  const auto value = a.str(2);
  g.store->set(a.str(1), std::vector<uint8_t>(value.begin(), value.end()));
  return a.undefined();
}

Napi::Value distStoreGet(Args& a) {
  // Blocks until the key exists (or the store's timeout).
  auto& g = group(a, 0);
  auto bytes = g.store->get(a.str(1));
  return Napi::String::New(a.env(), std::string(bytes.begin(), bytes.end()));
}

Napi::Value distDestroy(Args& a) {
  auto& g = group(a, 0);
  g.group.reset();
  g.store.reset();
  return a.undefined();
}

#endif

Napi::Value distBackends(Args& a) {
  auto obj = Napi::Object::New(a.env());
#ifdef USE_C10D_GLOO
  obj.Set("gloo", true);
#else
  obj.Set("gloo", false);
#endif
#ifdef USE_C10D_NCCL
  obj.Set("nccl", true);
#else
  obj.Set("nccl", false);
#endif
  return obj;
}

const OpEntry kEntries[] = {
    {"distBackends", distBackends},
#if defined(USE_C10D_GLOO) || defined(USE_C10D_NCCL)
    {"distInit", distInit},
    {"distAllreduce", distAllreduce},
    {"distBroadcast", distBroadcast},
    {"distAllgather", distAllgather},
    {"distBarrier", distBarrier},
    {"distWait", distWait},
    {"distStoreSet", distStoreSet},
    {"distStoreGet", distStoreGet},
    {"distDestroy", distDestroy},
#endif
};

}  // namespace

void registerDist(Napi::Env env, Napi::Object exports) {
  registerOps(env, exports, kEntries, sizeof(kEntries) / sizeof(kEntries[0]));
}

}  // namespace bs
