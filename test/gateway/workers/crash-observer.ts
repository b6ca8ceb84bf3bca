// Preloaded into the test gateway's workers: an observer that makes the worker thread exit in the
// middle of a batch (after session.run, before the results go back) when the batch holds a row
// whose first feature is -999. It stands in for any fatal fault inside a worker.
import { batchObserverFactories } from '../../../gateway/workers/observers.js';

export const POISON = -999;

batchObserverFactories.push((spec) =>
  spec.model === 'weather'
    ? {
        observe(batch) {
          const features = batch.inputs[0]!.data as Float32Array;
          for (let i = 0; i < features.length; i += 5) if (features[i] === POISON) process.exit(1);
        },
      }
    : undefined,
);
