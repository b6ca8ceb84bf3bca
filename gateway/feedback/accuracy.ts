// Windowed accuracy of one model version from its feedback: rows labelled, how many the version got
// right (classifiers), and the sums of absolute and squared errors (regressors), over the current
// window and the one before it. Windows follow each other every `windowMs` from the first feedback.
import type { FeedbackTask } from './prediction.js';

interface Window {
  start: number;
  count: number;
  correct: number;
  absError: number;
  squaredError: number;
}

export interface AccuracyFigures {
  started: string;
  ended: string | null;
  /** Rows that got feedback in the window. */
  count: number;
  /** Classifiers: correct / count (null without feedback). */
  correct: number | null;
  accuracy: number | null;
  /** Regressors: mean absolute error and root mean squared error (null without feedback). */
  mae: number | null;
  rmse: number | null;
}

export interface AccuracyReport {
  task: FeedbackTask;
  /** The prediction output feedback is joined to. */
  output: string;
  window_seconds: number;
  current: AccuracyFigures;
  previous: AccuracyFigures | null;
}

function empty(start: number): Window {
  return { start, count: 0, correct: 0, absError: 0, squaredError: 0 };
}

export class AccuracyWindows {
  readonly task: FeedbackTask;
  readonly windowMs: number;
  #current: Window;
  #previous: Window | null = null;

  constructor(task: FeedbackTask, windowMs: number, now: number) {
    this.task = task;
    this.windowMs = windowMs;
    this.#current = empty(now);
  }

  /** Feedback of `count` rows joined at `now`. */
  add(now: number, count: number, correct: number, absError: number, squaredError: number): void {
    this.#roll(now);
    const w = this.#current;
    w.count += count;
    w.correct += correct;
    w.absError += absError;
    w.squaredError += squaredError;
  }

  /** The current window's accuracy (classifiers) or mean absolute error (regressors); NaN while empty. */
  headline(now: number): number {
    this.#roll(now);
    const w = this.#current;
    if (w.count === 0) return NaN;
    return this.task === 'classification' ? w.correct / w.count : w.absError / w.count;
  }

  report(now: number, output: string): AccuracyReport {
    this.#roll(now);
    const p = this.#previous;
    return {
      task: this.task,
      output,
      window_seconds: this.windowMs / 1000,
      current: this.#figures(this.#current, null),
      previous: p === null ? null : this.#figures(p, p.start + this.windowMs),
    };
  }

  /** Move on to the window `now` falls in; a gap of more than one window leaves an empty previous one. */
  #roll(now: number): void {
    const elapsed = now - this.#current.start;
    if (elapsed < this.windowMs) return;
    const windows = Math.floor(elapsed / this.windowMs);
    const start = this.#current.start + windows * this.windowMs;
    this.#previous = windows === 1 ? this.#current : empty(start - this.windowMs);
    this.#current = empty(start);
  }

  #figures(w: Window, ended: number | null): AccuracyFigures {
    const n = w.count;
    const classifier = this.task === 'classification';
    return {
      started: new Date(w.start).toISOString(),
      ended: ended === null ? null : new Date(ended).toISOString(),
      count: n,
      correct: classifier ? w.correct : null,
      accuracy: classifier && n > 0 ? w.correct / n : null,
      mae: !classifier && n > 0 ? w.absError / n : null,
      rmse: !classifier && n > 0 ? Math.sqrt(w.squaredError / n) : null,
    };
  }
}
