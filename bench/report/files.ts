// A run's three files, side by side: <stem>.json (everything), <stem>.md (the table), <stem>.svg (the chart).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderMarkdown } from './markdown.js';
import { renderSvg } from './svg.js';
import type { BenchRun } from './types.js';

/** 2026-11-24T05-41-07Z: sortable, safe in file names. */
export function resultStem(date: Date, quick: boolean): string {
  return `${date.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-')}${quick ? '-quick' : ''}`;
}

/** Writes the three files and returns the Markdown. */
export function writeResults(dir: string, stem: string, run: BenchRun): string {
  const md = renderMarkdown(run);
  writeFileSync(join(dir, `${stem}.json`), `${JSON.stringify(run, null, 1)}\n`);
  writeFileSync(join(dir, `${stem}.md`), md);
  writeFileSync(join(dir, `${stem}.svg`), renderSvg(run));
  return md;
}
