// Shared argument checks for the addon. Every exported function validates its arguments with
// these before it touches memory, so a wrong call throws a TypeError/RangeError in JS instead of
// crashing the process. The exceptions are C++ exceptions that node-addon-api converts to JS
// exceptions at the boundary: with NODE_ADDON_API_CPP_EXCEPTIONS_ALL (binding.gyp) its wrappers
// also convert std::exception (std::bad_alloc from a vector) and anything else, and the plain N-API
// callbacks go through GuardCallback, so none escapes into V8 unconverted.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>

#define SLUICE_THROW_TYPE(env, msg) throw Napi::TypeError::New((env), (msg))
#define SLUICE_THROW_RANGE(env, msg) throw Napi::RangeError::New((env), (msg))

#define SLUICE_THROW_TYPE_IF(cond, env, msg) \
  do {                                       \
    if (cond) SLUICE_THROW_TYPE(env, msg);   \
  } while (0)

#define SLUICE_THROW_RANGE_IF(cond, env, msg) \
  do {                                        \
    if (cond) SLUICE_THROW_RANGE(env, msg);   \
  } while (0)

namespace sluice {

// The body of a plain N-API callback (one that skips node-addon-api's wrappers for speed), with every
// C++ exception turned into a pending JS exception as the wrappers do.
template <typename Body>
inline napi_value GuardCallback(napi_env env, Body&& body) {
  try {
    body();
  } catch (const Napi::Error& e) {
    e.ThrowAsJavaScriptException();
  } catch (const std::exception& e) {
    Napi::Error::New(env, e.what()).ThrowAsJavaScriptException();
  } catch (...) {
    Napi::Error::New(env, "a native exception was thrown").ThrowAsJavaScriptException();
  }
  return nullptr;
}

// A JS value read as the addon's argument types; `name` names it in the error. Values above 2^53 - 1
// are refused: past it a double no longer holds every integer.
inline size_t SizeValue(Napi::Env env, Napi::Value value, const std::string& name) {
  SLUICE_THROW_TYPE_IF(!value.IsNumber(), env, name + " must be a number");
  const double v = value.As<Napi::Number>().DoubleValue();
  SLUICE_THROW_RANGE_IF(!(v >= 0) || v > 9007199254740991.0 || v != static_cast<double>(static_cast<int64_t>(v)), env,
                        name + " must be a non-negative integer");
  return static_cast<size_t>(v);
}

inline double NumberValue(Napi::Env env, Napi::Value value, const std::string& name) {
  SLUICE_THROW_TYPE_IF(!value.IsNumber(), env, name + " must be a number");
  return value.As<Napi::Number>().DoubleValue();
}

inline bool BoolValue(Napi::Env env, Napi::Value value, const std::string& name) {
  SLUICE_THROW_TYPE_IF(!value.IsBoolean(), env, name + " must be a boolean");
  return value.As<Napi::Boolean>().Value();
}

template <typename T>
inline Napi::TypedArrayOf<T> TypedValue(Napi::Env env, Napi::Value value, const std::string& name,
                                        napi_typedarray_type type, const char* type_name) {
  SLUICE_THROW_TYPE_IF(!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != type, env,
                       name + " must be a " + type_name);
  return value.As<Napi::TypedArrayOf<T>>();
}

// The same for positional arguments (a missing one is a TypeError like a wrong one).
inline Napi::Value Arg(const Napi::CallbackInfo& info, size_t i) {
  return i < info.Length() ? info[i] : info.Env().Undefined();
}

inline double NumberArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  return NumberValue(info.Env(), Arg(info, i), name);
}

template <typename T>
inline Napi::TypedArrayOf<T> TypedArg(const Napi::CallbackInfo& info, size_t i, const char* name,
                                      napi_typedarray_type type, const char* type_name) {
  return TypedValue<T>(info.Env(), Arg(info, i), name, type, type_name);
}

// a * b, or false when the product does not fit a size_t.
inline bool CheckedMul(size_t a, size_t b, size_t* out) {
  return !__builtin_mul_overflow(a, b, out);
}

}  // namespace sluice
