// Registers the addon's exports and nothing else. The module is a Node-API module, so it is
// context-aware: it loads in the main thread and in every worker thread, each with its own
// exports object. Classes keep their constructors in per-environment instance data, never in
// statics shared between threads.
#include <napi.h>

#include "drift_scores.h"
#include "drift_window.h"
#include "image_tensor.h"
#include "listen_backlog.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("imageToTensor", Napi::Function::New(env, sluice::ImageToTensor, "imageToTensor"));
  exports.Set("DriftWindow", sluice::DriftWindow::Init(env));
  exports.Set("driftKolmogorovQ", Napi::Function::New(env, sluice::DriftKolmogorovQ, "driftKolmogorovQ"));
  exports.Set("driftChiSquaredPValue", Napi::Function::New(env, sluice::DriftChiSquaredPValue, "driftChiSquaredPValue"));
  exports.Set("raiseListenBacklog", Napi::Function::New(env, sluice::RaiseListenBacklog, "raiseListenBacklog"));
  exports.Set("abiVersion", Napi::Number::New(env, 2));
  return exports;
}

}  // namespace

NODE_API_MODULE(sluice_native, Init)
