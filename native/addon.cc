// Registers the addon's exports and nothing else. The module is a Node-API module, so it is
// context-aware: it loads in the main thread and in every worker thread, each with its own
// exports object. Classes keep their constructors in per-environment instance data, never in
// statics shared between threads.
#include <napi.h>

#include "image_tensor.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("imageToTensor", Napi::Function::New(env, sluice::ImageToTensor, "imageToTensor"));
  exports.Set("abiVersion", Napi::Number::New(env, 1));
  return exports;
}

}  // namespace

NODE_API_MODULE(sluice_native, Init)
