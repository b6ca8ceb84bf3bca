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

// A non-negative integer argument that fits a size_t; names the argument in the error.
inline size_t SizeArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Env env = info.Env();
  SLUICE_THROW_TYPE_IF(info.Length() <= i || !info[i].IsNumber(), env,
                       std::string(name) + " must be a number");
  double v = info[i].As<Napi::Number>().DoubleValue();
  SLUICE_THROW_RANGE_IF(!(v >= 0) || v != static_cast<double>(static_cast<int64_t>(v)) || v > 9007199254740991.0,
                        env, std::string(name) + " must be a non-negative integer");
  return static_cast<size_t>(v);
}

inline double NumberArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Env env = info.Env();
  SLUICE_THROW_TYPE_IF(info.Length() <= i || !info[i].IsNumber(), env,
                       std::string(name) + " must be a number");
  return info[i].As<Napi::Number>().DoubleValue();
}

template <typename T>
inline Napi::TypedArrayOf<T> TypedArg(const Napi::CallbackInfo& info, size_t i, const char* name,
                                      napi_typedarray_type type, const char* type_name) {
  Napi::Env env = info.Env();
  SLUICE_THROW_TYPE_IF(info.Length() <= i || !info[i].IsTypedArray(), env,
                       std::string(name) + " must be a " + type_name);
  Napi::TypedArray ta = info[i].As<Napi::TypedArray>();
  SLUICE_THROW_TYPE_IF(ta.TypedArrayType() != type, env, std::string(name) + " must be a " + type_name);
  return ta.As<Napi::TypedArrayOf<T>>();
}

}  // namespace sluice
