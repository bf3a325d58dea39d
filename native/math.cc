// Elementwise math, comparisons, reductions and linear algebra.
#include "common.h"

namespace bs {
namespace {

// Binary ops whose second operand may be a tensor or a JS number.
#define BS_BINARY(NAME, FN) BS_OP(NAME, a.isTensor(1) ? FN(a.t(0), a.t(1)) : FN(a.t(0), a.scalar(1)))
#define BS_UNARY(NAME, FN) BS_OP(NAME, FN(a.t(0)))

c10::optional<at::ScalarType> optDtype(Args& a, size_t i) {
  if (!a.has(i)) return c10::nullopt;
  return a.dtype(i);
}

Napi::Value sumOp(Args& a) {
  // sum(t, dims|null, keepdim, dtype|null)
  if (!a.has(1)) return a.ret(at::sum(a.t(0), optDtype(a, 3)));
  auto dims = a.ints(1);
  return a.ret(at::sum(a.t(0), at::IntArrayRef(dims), a.b(2), optDtype(a, 3)));
}

Napi::Value meanOp(Args& a) {
  if (!a.has(1)) return a.ret(at::mean(a.t(0)));
  auto dims = a.ints(1);
  return a.ret(at::mean(a.t(0), at::IntArrayRef(dims), a.b(2)));
}

Napi::Value varOp(Args& a) {
  // var(t, dims|null, unbiased, keepdim)
  if (!a.has(1)) return a.ret(at::var(a.t(0), a.b(2)));
  auto dims = a.ints(1);
  return a.ret(at::var(a.t(0), at::IntArrayRef(dims), a.b(2), a.b(3)));
}

Napi::Value allOp(Args& a) { return a.ret(a.has(1) ? at::all(a.t(0), a.i64(1), a.b(2)) : at::all(a.t(0))); }
Napi::Value anyOp(Args& a) { return a.ret(a.has(1) ? at::any(a.t(0), a.i64(1), a.b(2)) : at::any(a.t(0))); }

Napi::Value divModeOp(Args& a) {
  // div with rounding mode "trunc" or "floor"
  auto mode = a.str(2);
  return a.ret(a.isTensor(1) ? at::div(a.t(0), a.t(1), mode) : at::div(a.t(0), a.scalar(1), mode));
}

const OpEntry kEntries[] = {
    BS_BINARY("add", at::add),
    BS_BINARY("sub", at::sub),
    BS_BINARY("mul", at::mul),
    BS_BINARY("div", at::div),
    BS_BINARY("pow", at::pow),
    BS_BINARY("remainder", at::remainder),
    BS_BINARY("eq", at::eq),
    BS_BINARY("ne", at::ne),
    BS_BINARY("lt", at::lt),
    BS_BINARY("le", at::le),
    BS_BINARY("gt", at::gt),
    BS_BINARY("ge", at::ge),
    {"divMode", divModeOp},
    BS_OP("rsub", at::rsub(a.t(0), a.scalar(1))),
    BS_OP("rpow", at::pow(a.scalar(1), a.t(0))),
    BS_OP("maximum", at::maximum(a.t(0), a.t(1))),
    BS_OP("minimum", at::minimum(a.t(0), a.t(1))),
    BS_OP("logicalAnd", at::logical_and(a.t(0), a.t(1))),
    BS_OP("logicalOr", at::logical_or(a.t(0), a.t(1))),
    BS_OP("logicalXor", at::logical_xor(a.t(0), a.t(1))),
    BS_OP("atan2", at::atan2(a.t(0), a.t(1))),
    BS_OP("clamp", at::clamp(a.t(0), a.optScalar(1), a.optScalar(2))),
    BS_OP("lerp", at::lerp(a.t(0), a.t(1), a.scalar(2))),
    BS_UNARY("neg", at::neg),
    BS_UNARY("exp", at::exp),
    BS_UNARY("log", at::log),
    BS_UNARY("log1p", at::log1p),
    BS_UNARY("expm1", at::expm1),
    BS_UNARY("sqrt", at::sqrt),
    BS_UNARY("rsqrt", at::rsqrt),
    BS_UNARY("square", at::square),
    BS_UNARY("abs", at::abs),
    BS_UNARY("sign", at::sign),
    BS_UNARY("floor", at::floor),
    BS_UNARY("ceil", at::ceil),
    BS_UNARY("round", at::round),
    BS_UNARY("trunc", at::trunc),
    BS_UNARY("sin", at::sin),
    BS_UNARY("cos", at::cos),
    BS_UNARY("erf", at::erf),
    BS_UNARY("reciprocal", at::reciprocal),
    BS_UNARY("isnan", at::isnan),
    BS_UNARY("isinf", at::isinf),
    BS_UNARY("isfinite", at::isfinite),
    BS_UNARY("logicalNot", at::logical_not),
    // reductions
    {"sum", sumOp},
    {"mean", meanOp},
    {"var", varOp},
    {"all", allOp},
    {"any", anyOp},
    BS_OP("prod", at::prod(a.t(0))),
    BS_OP("amax", at::amax(a.t(0), a.ints(1), a.b(2))),
    BS_OP("amin", at::amin(a.t(0), a.ints(1), a.b(2))),
    BS_OP("logsumexp", at::logsumexp(a.t(0), a.ints(1), a.b(2))),
    BS_OP("cumsum", at::cumsum(a.t(0), a.i64(1))),
    BS_OP("countNonzero", at::count_nonzero(a.t(0))),
    // linear algebra
    BS_OP("matmul", at::matmul(a.t(0), a.t(1))),
    BS_OP("mm", at::mm(a.t(0), a.t(1))),
    BS_OP("bmm", at::bmm(a.t(0), a.t(1))),
    BS_OP("einsum", at::einsum(a.str(0), a.tensors(1))),
    BS_OP("eigvalsh", at::linalg_eigvalsh(a.t(0))),
};

}  // namespace

void registerMathOps(Napi::Env env, Napi::Object exports) {
  registerOps(env, exports, kEntries, sizeof(kEntries) / sizeof(kEntries[0]));
}

}  // namespace bs
