// uPlot in a preact component: made once per mount, fed new data with setData (no re-creation,
// so a live chart does not flicker), resized with its container.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { html } from './ui.js';

const PALETTE = ['#2563eb', '#f97316', '#16a34a', '#9333ea', '#dc2626', '#0891b2', '#ca8a04'];

/**
 * A line (or bars) chart. `x`: the x values; `series`: [{ label, values, fill }]; `time`: x is
 * seconds since the epoch; `bars`: draw bars; `step`: stepped lines, each value held from its x to
 * the next (histograms over bins of unequal width: x the bin edges, the last value repeated);
 * `name`: data-chart attribute for tests.
 */
export function Chart({ x, series, time = false, bars = false, step = false, height = 220, name, xLabel, yLabel }) {
  const box = useRef(null);
  const plot = useRef(null);
  const data = [x, ...series.map((s) => s.values)];
  const shape = series.map((s) => s.label).join('|');
  useEffect(() => {
    const width = box.current.clientWidth || 600;
    const paths = bars ? uPlot.paths.bars({ size: [0.8, 40] }) : step ? uPlot.paths.stepped({ align: 1 }) : undefined;
    plot.current = new uPlot(
      {
        width,
        height,
        scales: { x: { time } },
        axes: [{ label: xLabel, stroke: '#475569', grid: { stroke: '#e2e8f0' } }, { label: yLabel, stroke: '#475569', grid: { stroke: '#e2e8f0' } }],
        legend: { show: series.length > 1 || !(bars || step), live: !(bars || step) },
        series: [
          { label: xLabel ?? 'x' },
          ...series.map((s, i) => ({
            label: s.label,
            stroke: PALETTE[i % PALETTE.length],
            width: 2,
            fill: bars || s.fill ? `${PALETTE[i % PALETTE.length]}${s.fill === 'light' ? '22' : '55'}` : undefined,
            paths,
            points: { show: !bars && !step && x.length < 40 },
            spanGaps: !bars && !step,
          })),
        ],
      },
      data,
      box.current,
    );
    const resize = new ResizeObserver(() => box.current && plot.current?.setSize({ width: box.current.clientWidth, height }));
    resize.observe(box.current);
    return () => {
      resize.disconnect();
      plot.current.destroy();
      plot.current = null;
    };
  }, [shape, bars, step, time, height]);
  useEffect(() => {
    plot.current?.setData(data);
  });
  return html`<div class="chart" ref=${box} data-chart=${name} data-points=${x.length}></div>`;
}
