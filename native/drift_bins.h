// Finding a value's bin among a feature's sorted edges, without a data-dependent branch: the bins
// of real data are unpredictable, so every mispredicted branch in the search costs more than the
// rest of the per-value work. gateway/drift/bins.ts is the TypeScript twin (same table, same steps).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace sluice {
namespace drift {

// Numeric bin of x (not NaN): how many edges are <= x.
inline size_t UpperBound(const double* edges, size_t n, double x) {
  if (n == 0) return 0;
  const double* base = edges;
  while (n > 1) {
    const size_t half = n >> 1;
    base = base[half] <= x ? base + half : base;
    n -= half;
  }
  return static_cast<size_t>(base - edges) + (*base <= x ? 1 : 0);
}

// Categorical bin of x: the index of the category equal to x, or n (the "other" bin).
inline size_t CategoryOf(const double* edges, size_t n, double x) {
  if (n == 0) return 0;
  const double* base = edges;
  size_t len = n;
  while (len > 1) {
    const size_t half = len >> 1;
    base = base[half] < x ? base + half : base;
    len -= half;
  }
  const size_t i = static_cast<size_t>(base - edges) + (*base < x ? 1 : 0);
  return i < n && edges[i] == x ? i : n;
}

// A numeric feature's bin table: `cells` uniform cells over [first edge, last edge]. Cell(x) is
// computed by the same arithmetic when the table is built (from the edges) and when it is read (for
// a value), and that arithmetic is monotone in x, so every edge in a cell before x's is <= x and
// every edge in a cell after x's is > x: the bin is start[cell] plus how many of the at most
// `steps` edges that fell in x's own cell are <= x. No rounding fix-up, no branch on the data;
// values below the first edge or past the last (±Infinity included) clamp into the outer cells.
// `padded` is the edges followed by `steps` NaNs, so the steps never bounds-check: NaN <= x is false
// for every x, +Infinity included.
struct BinTable {
  double first = 0;
  double scale = 0;
  double top = 0;  // cells - 1
  size_t steps = 0;
  std::vector<uint16_t> start;
  std::vector<double> padded;

  size_t Cell(double x) const { return CellOf(x, first, scale, top); }

  static size_t CellOf(double x, double first, double scale, double top) {
    double t = (x - first) * scale;
    t = t > 0 ? t : 0;
    t = t < top ? t : top;
    // cells <= kTableMaxCells: a signed 32-bit conversion (one instruction, no range branch).
    return static_cast<size_t>(static_cast<int32_t>(t));
  }
};

// A BinTable's fields copied into locals for a hot loop (the counts it writes are doubles, so the
// compiler could not otherwise keep the table's doubles in registers across the stores).
struct BinView {
  double first, scale, top;
  size_t steps;
  const uint16_t* start;
  const double* padded;

  explicit BinView(const BinTable& t)
      : first(t.first), scale(t.scale), top(t.top), steps(t.steps), start(t.start.data()), padded(t.padded.data()) {}

  size_t Bin(double x) const {
    const size_t base = start[BinTable::CellOf(x, first, scale, top)];
    const double* e = padded + base;
    if (steps <= 4) {
      size_t bin = base;
      for (size_t j = 0; j < steps; ++j) bin += e[j] <= x ? 1 : 0;
      return bin;
    }
    return base + UpperBound(e, steps, x);
  }
};

// Tables only pay off past a few edges; they stay small (cells <= kMaxCells, 16-bit starts).
constexpr size_t kTableMinEdges = 8;
constexpr size_t kTableMaxEdges = 65535;
constexpr size_t kTableMaxCells = 8192;
constexpr size_t kTableTargetSteps = 2;

// A table for `n` sorted edges, or false when they do not suit one (few edges, or a span whose scale
// is not finite). Cells start at twice the edges and double (up to kTableMaxCells) while some cell
// holds more than kTableTargetSteps edges: a skewed feature's percentiles crowd into a few cells.
inline bool BuildBinTable(const double* edges, size_t n, BinTable* out) {
  if (n < kTableMinEdges || n > kTableMaxEdges) return false;
  const double first = edges[0];
  const double span = edges[n - 1] - first;
  std::vector<uint32_t> per_cell;
  for (size_t cells = 2 * n;; cells *= 2) {
    if (cells > kTableMaxCells) cells = kTableMaxCells;
    BinTable t;
    t.first = first;
    t.scale = static_cast<double>(cells) / span;
    t.top = static_cast<double>(cells - 1);
    if (!std::isfinite(t.scale) || !(t.scale > 0)) return false;
    per_cell.assign(cells, 0);
    size_t steps = 0;
    for (size_t i = 0; i < n; ++i) {
      const uint32_t c = ++per_cell[t.Cell(edges[i])];
      if (c > steps) steps = c;
    }
    if (steps > kTableTargetSteps && cells < kTableMaxCells) continue;
    t.steps = steps;
    t.start.resize(cells);
    size_t before = 0;
    for (size_t c = 0; c < cells; ++c) {
      t.start[c] = static_cast<uint16_t>(before);
      before += per_cell[c];
    }
    t.padded.assign(edges, edges + n);
    t.padded.resize(n + steps, std::numeric_limits<double>::quiet_NaN());
    *out = std::move(t);
    return true;
  }
}

}  // namespace drift
}  // namespace sluice
