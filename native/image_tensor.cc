// Decoded image pixels (uint8, interleaved HWC, as sharp hands them out) to one model input slot:
// picks and reorders channels (RGB->BGR), applies (x * scale - mean[c]) / std[c], writes NCHW or
// NHWC into a caller-owned Float32Array at an offset (the batch buffer), and fills the right/bottom
// padding when the resized image is smaller than the model's fixed size (PaddleOCR pads width).
// A JS loop doing this for a 3x48x192 input costs ~10x more; it runs once per image.
#include "image_tensor.h"

#include "common.h"

namespace sluice {

Napi::Value ImageToTensor(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SLUICE_THROW_TYPE_IF(info.Length() != 14, env, "imageToTensor takes 14 arguments");
  auto src = TypedArg<uint8_t>(info, 0, "src", napi_uint8_array, "Uint8Array");
  const size_t src_w = SizeArg(info, 1, "srcWidth");
  const size_t src_h = SizeArg(info, 2, "srcHeight");
  const size_t src_c = SizeArg(info, 3, "srcChannels");
  auto dst = TypedArg<float>(info, 4, "dst", napi_float32_array, "Float32Array");
  const size_t dst_off = SizeArg(info, 5, "dstOffset");
  const size_t dst_w = SizeArg(info, 6, "dstWidth");
  const size_t dst_h = SizeArg(info, 7, "dstHeight");
  SLUICE_THROW_TYPE_IF(!info[8].IsBoolean(), env, "chw must be a boolean");
  const bool chw = info[8].As<Napi::Boolean>().Value();
  auto channel_map = TypedArg<int32_t>(info, 9, "channelMap", napi_int32_array, "Int32Array");
  const float scale = static_cast<float>(NumberArg(info, 10, "scale"));
  auto mean = TypedArg<float>(info, 11, "mean", napi_float32_array, "Float32Array");
  auto stdev = TypedArg<float>(info, 12, "std", napi_float32_array, "Float32Array");
  const float pad = static_cast<float>(NumberArg(info, 13, "padValue"));

  const size_t out_c = channel_map.ElementLength();
  SLUICE_THROW_RANGE_IF(src_c == 0 || src_c > 4, env, "srcChannels must be 1 to 4");
  SLUICE_THROW_RANGE_IF(out_c == 0 || out_c > 4, env, "channelMap must have 1 to 4 entries");
  SLUICE_THROW_RANGE_IF(mean.ElementLength() != out_c || stdev.ElementLength() != out_c, env,
                        "mean and std must have one entry per output channel");
  SLUICE_THROW_RANGE_IF(src_w > dst_w || src_h > dst_h, env,
                        "source image is larger than the destination tensor");
  SLUICE_THROW_RANGE_IF(src.ElementLength() != src_w * src_h * src_c, env,
                        "src length does not match srcWidth * srcHeight * srcChannels");
  const size_t plane = dst_w * dst_h;
  SLUICE_THROW_RANGE_IF(dst_off > dst.ElementLength() || dst.ElementLength() - dst_off < plane * out_c, env,
                        "dst is too small for the tensor at dstOffset");
  for (size_t c = 0; c < out_c; ++c) {
    SLUICE_THROW_RANGE_IF(channel_map[c] < 0 || static_cast<size_t>(channel_map[c]) >= src_c, env,
                          "channelMap entries must name a source channel");
    SLUICE_THROW_RANGE_IF(stdev[c] == 0.0f, env, "std entries must not be zero");
  }

  // Fold (x*scale - mean)/std into x*a + b per channel.
  float a[4], b[4];
  size_t map[4];
  for (size_t c = 0; c < out_c; ++c) {
    a[c] = scale / stdev[c];
    b[c] = -mean[c] / stdev[c];
    map[c] = static_cast<size_t>(channel_map[c]);
  }
  const uint8_t* in = src.Data();
  float* out = dst.Data() + dst_off;

  if (chw) {
    for (size_t c = 0; c < out_c; ++c) {
      float* o = out + c * plane;
      const size_t sc = map[c];
      for (size_t y = 0; y < dst_h; ++y) {
        float* row = o + y * dst_w;
        if (y >= src_h) {
          for (size_t x = 0; x < dst_w; ++x) row[x] = pad;
          continue;
        }
        const uint8_t* srow = in + y * src_w * src_c + sc;
        for (size_t x = 0; x < src_w; ++x) row[x] = static_cast<float>(srow[x * src_c]) * a[c] + b[c];
        for (size_t x = src_w; x < dst_w; ++x) row[x] = pad;
      }
    }
  } else {
    for (size_t y = 0; y < dst_h; ++y) {
      for (size_t x = 0; x < dst_w; ++x) {
        float* o = out + (y * dst_w + x) * out_c;
        if (y >= src_h || x >= src_w) {
          for (size_t c = 0; c < out_c; ++c) o[c] = pad;
          continue;
        }
        const uint8_t* p = in + (y * src_w + x) * src_c;
        for (size_t c = 0; c < out_c; ++c) o[c] = static_cast<float>(p[map[c]]) * a[c] + b[c];
      }
    }
  }
  return env.Undefined();
}

}  // namespace sluice
