// Decoded image pixels (uint8, interleaved HWC, as sharp hands them out) to one model input slot:
// picks and reorders channels (RGB->BGR), applies (x * scale - mean[c]) / std[c], writes NCHW or
// NHWC into a caller-owned Float32Array at an offset (the batch buffer), and fills the right/bottom
// padding when the resized image is smaller than the model's fixed size (PaddleOCR pads width).
// Native because the same loop in JS costs several times more (bench/micro/images/preprocess.ts).
#include "image_tensor.h"

#include "common.h"

namespace sluice {

namespace {

// The call's inputs once checked: every size below, products included, fits the arrays it indexes.
struct ImageTensorJob {
  const uint8_t* src;
  size_t src_w, src_h, src_c;
  float* dst;  // at dstOffset
  size_t dst_w, dst_h, out_c;
  bool chw;
  size_t map[4];
  float a[4], b[4];  // (x * scale - mean[c]) / std[c] folded into x * a[c] + b[c]
  float pad;
};

enum Field { kSrc, kSrcWidth, kSrcHeight, kSrcChannels, kDst, kDstOffset, kDstWidth, kDstHeight, kChw, kChannelMap,
             kScale, kMean, kStd, kPadValue, kFields };
constexpr const char* kFieldNames[kFields] = {"src", "srcWidth", "srcHeight", "srcChannels", "dst", "dstOffset",
                                              "dstWidth", "dstHeight", "chw", "channelMap", "scale", "mean", "std",
                                              "padValue"};

ImageTensorJob ReadJob(Napi::Env env, Napi::Object o) {
  // Every property is read before any is checked: a getter runs JS, which could detach or shrink an
  // array already looked at. After this loop no JS runs until the fill is done.
  Napi::Value v[kFields];
  for (size_t i = 0; i < kFields; ++i) v[i] = o.Get(kFieldNames[i]);
  auto src = TypedValue<uint8_t>(env, v[kSrc], "src", napi_uint8_array, "Uint8Array");
  const size_t src_w = SizeValue(env, v[kSrcWidth], "srcWidth");
  const size_t src_h = SizeValue(env, v[kSrcHeight], "srcHeight");
  const size_t src_c = SizeValue(env, v[kSrcChannels], "srcChannels");
  auto dst = TypedValue<float>(env, v[kDst], "dst", napi_float32_array, "Float32Array");
  const size_t dst_off = SizeValue(env, v[kDstOffset], "dstOffset");
  const size_t dst_w = SizeValue(env, v[kDstWidth], "dstWidth");
  const size_t dst_h = SizeValue(env, v[kDstHeight], "dstHeight");
  const bool chw = BoolValue(env, v[kChw], "chw");
  auto channel_map = TypedValue<int32_t>(env, v[kChannelMap], "channelMap", napi_int32_array, "Int32Array");
  const float scale = static_cast<float>(NumberValue(env, v[kScale], "scale"));
  auto mean = TypedValue<float>(env, v[kMean], "mean", napi_float32_array, "Float32Array");
  auto stdev = TypedValue<float>(env, v[kStd], "std", napi_float32_array, "Float32Array");
  const float pad = static_cast<float>(NumberValue(env, v[kPadValue], "padValue"));

  const size_t out_c = channel_map.ElementLength();
  SLUICE_THROW_RANGE_IF(src_c == 0 || src_c > 4, env, "srcChannels must be 1 to 4");
  SLUICE_THROW_RANGE_IF(out_c == 0 || out_c > 4, env, "channelMap must have 1 to 4 entries");
  SLUICE_THROW_RANGE_IF(mean.ElementLength() != out_c || stdev.ElementLength() != out_c, env,
                        "mean and std must have one entry per output channel");
  SLUICE_THROW_RANGE_IF(src_w > dst_w || src_h > dst_h, env, "source image is larger than the destination tensor");
  // Each dimension is below 2^53, so products can wrap a size_t: every one is checked, and the loops
  // below index only within them.
  size_t src_len, plane, tensor;
  SLUICE_THROW_RANGE_IF(!CheckedMul(src_w, src_h, &src_len) || !CheckedMul(src_len, src_c, &src_len) ||
                            src.ElementLength() != src_len,
                        env, "src length does not match srcWidth * srcHeight * srcChannels");
  SLUICE_THROW_RANGE_IF(!CheckedMul(dst_w, dst_h, &plane) || !CheckedMul(plane, out_c, &tensor) ||
                            dst_off > dst.ElementLength() || dst.ElementLength() - dst_off < tensor,
                        env, "dst is too small for the tensor at dstOffset");
  ImageTensorJob job{src.Data(), src_w, src_h, src_c, dst.Data() + dst_off, dst_w, dst_h, out_c, chw, {}, {}, {}, pad};
  for (size_t c = 0; c < out_c; ++c) {
    SLUICE_THROW_RANGE_IF(channel_map[c] < 0 || static_cast<size_t>(channel_map[c]) >= src_c, env,
                          "channelMap entries must name a source channel");
    SLUICE_THROW_RANGE_IF(stdev[c] == 0.0f, env, "std entries must not be zero");
    job.map[c] = static_cast<size_t>(channel_map[c]);
    job.a[c] = scale / stdev[c];
    job.b[c] = -mean[c] / stdev[c];
  }
  return job;
}

// The job's fields are copied into locals: the stores are floats, and the compiler would otherwise
// reload a, b and pad from the job after every one of them.
void FillChw(const ImageTensorJob& j) {
  const size_t src_w = j.src_w, src_h = j.src_h, src_c = j.src_c, dst_w = j.dst_w, dst_h = j.dst_h;
  const size_t plane = dst_w * dst_h;
  const float pad = j.pad;
  for (size_t c = 0; c < j.out_c; ++c) {
    float* o = j.dst + c * plane;
    const uint8_t* in = j.src + j.map[c];
    const float a = j.a[c], b = j.b[c];
    for (size_t y = 0; y < dst_h; ++y) {
      float* row = o + y * dst_w;
      if (y >= src_h) {
        for (size_t x = 0; x < dst_w; ++x) row[x] = pad;
        continue;
      }
      const uint8_t* srow = in + y * src_w * src_c;
      for (size_t x = 0; x < src_w; ++x) row[x] = static_cast<float>(srow[x * src_c]) * a + b;
      for (size_t x = src_w; x < dst_w; ++x) row[x] = pad;
    }
  }
}

void FillHwc(const ImageTensorJob& j) {
  const size_t src_w = j.src_w, src_h = j.src_h, src_c = j.src_c, dst_w = j.dst_w, dst_h = j.dst_h, out_c = j.out_c;
  const float pad = j.pad;
  float a[4], b[4];
  size_t map[4];
  for (size_t c = 0; c < out_c; ++c) {
    a[c] = j.a[c];
    b[c] = j.b[c];
    map[c] = j.map[c];
  }
  for (size_t y = 0; y < dst_h; ++y) {
    for (size_t x = 0; x < dst_w; ++x) {
      float* o = j.dst + (y * dst_w + x) * out_c;
      if (y >= src_h || x >= src_w) {
        for (size_t c = 0; c < out_c; ++c) o[c] = pad;
        continue;
      }
      const uint8_t* p = j.src + (y * src_w + x) * src_c;
      for (size_t c = 0; c < out_c; ++c) o[c] = static_cast<float>(p[map[c]]) * a[c] + b[c];
    }
  }
}

}  // namespace

Napi::Value ImageToTensor(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SLUICE_THROW_TYPE_IF(info.Length() != 1 || !info[0].IsObject(), env, "imageToTensor takes one options object");
  const ImageTensorJob job = ReadJob(env, info[0].As<Napi::Object>());
  if (job.chw) {
    FillChw(job);
  } else {
    FillHwc(job);
  }
  return env.Undefined();
}

}  // namespace sluice
