// /metrics for slices (config `slices`, gateway/feedback/slices.ts): per slice of the current window
// its answered and labelled rows, outcome and error; per version the disparity. Read at scrape time
// from the windows; labels stay bounded (max_slices + __other__ + __missing__ per version).
import type { Registry } from 'prom-client';
import { SampledMetric } from '../metrics/label-cached-metrics.js';
import type { SliceFigures, SliceWindowReport } from './slices.js';

/** The versions with slices, each with its current window. */
export type SliceWindowSource = () => Iterable<{ model: string; version: string; window: SliceWindowReport }>;

export function registerSliceMetrics(registry: Registry, source: SliceWindowSource): void {
  const perSlice = (name: string, help: string, value: (f: SliceFigures) => number | null | undefined): void => {
    registry.registerMetric(new SampledMetric({
      name, help, type: 'gauge',
      *read() {
        for (const { model, version, window } of source()) {
          for (const f of window.slices) {
            const v = value(f);
            if (v !== null && v !== undefined) yield { labels: { model, version, slice: f.slice }, value: v };
          }
        }
      },
    }) as never);
  };
  perSlice('sluice_slice_calls', 'Rows answered per slice in the current slice window', (f) => f.calls);
  perSlice('sluice_slice_labelled', 'Rows given ground truth per slice in the current slice window', (f) => f.labelled);
  perSlice('sluice_slice_outcome_rate', 'Share of answered rows predicted as the positive class per slice (classifiers)', (f) => f.outcome_rate);
  perSlice('sluice_slice_mean_prediction', 'Mean prediction of the answered rows per slice (regressors)', (f) => f.mean_prediction);
  perSlice('sluice_slice_error_rate', 'Share of labelled rows predicted wrong per slice (classifiers)', (f) => f.error_rate);
  perSlice('sluice_slice_mae', 'Mean absolute error of the labelled rows per slice (regressors)', (f) => f.mae);
  registry.registerMetric(new SampledMetric({
    name: 'sluice_slice_error_disparity',
    help: 'Max minus min of the per-slice error rate (classifiers) or MAE (regressors) over slices with min_rows labelled rows',
    type: 'gauge',
    *read() {
      for (const { model, version, window } of source()) if (window.error_disparity !== null) yield { labels: { model, version }, value: window.error_disparity };
    },
  }) as never);
}
