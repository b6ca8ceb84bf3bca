#pragma once

#include <napi.h>

namespace sluice {

// imageToTensor(options): one options object, checked whole before any memory is touched:
//   src: Uint8Array (HWC), srcWidth, srcHeight, srcChannels (1-4),
//   dst: Float32Array, dstOffset, dstWidth, dstHeight, chw: boolean,
//   channelMap: Int32Array (1-4 source channels), scale, mean: Float32Array, std: Float32Array, padValue
Napi::Value ImageToTensor(const Napi::CallbackInfo& info);

}  // namespace sluice
