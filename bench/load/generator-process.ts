// Entry of a load generator child process: receives one LoadJob over IPC, runs it, sends back the
// LoadResult, exits. The runner starts it under `taskset` when it pins the client apart from the server.
import { runLoad } from './generator.js';
import type { LoadJob } from './job.js';

process.once('message', (job: LoadJob) => {
  runLoad(job).then(
    (result) => process.send!({ ok: true, result }, () => process.exit(0)),
    (err: unknown) => process.send!({ ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }, () => process.exit(1)),
  );
});
