#pragma once

#include <napi.h>

namespace sluice {

// imageToTensor(src: Uint8Array (HWC), srcWidth, srcHeight, srcChannels,
//               dst: Float32Array, dstOffset, dstWidth, dstHeight, chw: boolean,
//               channelMap: Int32Array, scale, mean: Float32Array, std: Float32Array, padValue)
Napi::Value ImageToTensor(const Napi::CallbackInfo& info);

}  // namespace sluice
