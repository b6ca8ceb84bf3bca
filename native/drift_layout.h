// The window state layout shared with gateway/drift/layout.ts (documented there). The constants
// must match that file; test/native/drift.test.ts compares snapshots of both implementations.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sluice {
namespace drift {

constexpr double kSnapshotMagic = 0x51d1;
constexpr size_t kSnapshotHeader = 3;
constexpr size_t kFeatureHeader = 11;

constexpr size_t kFN = 0;
constexpr size_t kFNaN = 1;
constexpr size_t kFPosInf = 2;
constexpr size_t kFNegInf = 3;
constexpr size_t kFFiniteN = 4;
constexpr size_t kFMean = 5;
constexpr size_t kFM2 = 6;
constexpr size_t kFMin = 7;
constexpr size_t kFMax = 8;
constexpr size_t kFLowSum = 9;
constexpr size_t kFHighSum = 10;
static_assert(kFHighSum + 1 == kFeatureHeader, "feature header fields and size disagree");

constexpr uint8_t kKindNumeric = 0;
constexpr uint8_t kKindCategorical = 1;

}  // namespace drift
}  // namespace sluice
