// Per-environment data of the addon. Node-API gives each environment (the main thread and every
// worker thread) one instance-data slot; classes keep their constructors here, never in statics,
// so a window created in a worker is checked against that worker's DriftWindow class.
#pragma once

#include <napi.h>

namespace sluice {

struct InstanceData {
  Napi::FunctionReference drift_window;
};

// The environment's InstanceData, created on first use and freed with the environment.
inline InstanceData* GetInstanceData(Napi::Env env) {
  InstanceData* data = env.GetInstanceData<InstanceData>();
  if (data == nullptr) {
    data = new InstanceData();
    env.SetInstanceData<InstanceData>(data);
  }
  return data;
}

}  // namespace sluice
