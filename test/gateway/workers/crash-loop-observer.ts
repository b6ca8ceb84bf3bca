// Preloaded into the crash-loop test's workers: every real (not warm-up) batch of model `crashy`
// makes its worker thread exit, as a session that crashes on every run would.
import { batchObserverFactories } from '../../../gateway/workers/observers.js';

batchObserverFactories.push((spec) =>
  spec.model === 'crashy'
    ? {
        observe(batch) {
          if (!batch.warmup) process.exit(1);
        },
      }
    : undefined,
);
