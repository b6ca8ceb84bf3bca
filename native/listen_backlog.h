#pragma once
#include <napi.h>

namespace sluice {

// raiseListenBacklog(port, backlog) -> number of listening sockets of this process on that port
// whose accept-queue bound was set to backlog.
Napi::Value RaiseListenBacklog(const Napi::CallbackInfo& info);

}  // namespace sluice
