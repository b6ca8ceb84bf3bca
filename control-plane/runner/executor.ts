// Where a training attempt's trainer process runs: on the runner's own machine (a child process
// group) or on a Slurm cluster (sbatch/squeue/sacct/scancel). The runner prepares the attempt's
// folder and environment, hands them to an executor, reads the trainer's output lines as they
// come, and collects `model.onnx` (and `metrics.json`) from the output folder when it exits.
//
// The trainer contract (docs/training.md) every executor passes on unchanged, as environment:
//   SLUICE_DATASET      absolute path of the dataset file (its SHA-256 already checked)
//   SLUICE_OUTPUT_DIR   absolute path of an empty folder; the trainer leaves model.onnx there
//                       (and optionally metrics.json: an object of metric name → number)
//   SLUICE_PARAMS       the job's parameters as one JSON object
//   SLUICE_PARAM_<NAME> each parameter on its own (name upper-cased, non-alphanumerics → _)
//   SLUICE_JOB_ID, SLUICE_ATTEMPT, SLUICE_MODEL
// Each stdout line that is a JSON object is progress/metrics ({"epoch":3,"loss":0.41}); any other
// line, and all of stderr, is log. Exit status 0 with model.onnx present is success.

/** What to run for one attempt. */
export interface ExecutionSpec {
  jobId: string;
  attempt: number;
  /** argv: the trainer executable and its arguments. */
  command: string[];
  /** Extra environment (the trainer contract above); the executor adds nothing else but PATH/HOME. */
  env: Record<string, string>;
  /** The attempt's folder on a filesystem the executor's processes can reach; the trainer's cwd. */
  workDir: string;
  /** Resource labels of the job (e.g. gpu, region); an executor maps the ones it understands (Slurm: --gres, --partition). */
  labels: string[];
  /** Wall-clock limit; past it the executor kills the whole process tree and reports `timed-out`. */
  timeoutSeconds: number;
}

export type ExecutionEnd =
  | { outcome: 'exited'; exitCode: number }
  /** Killed by a signal the executor did not send (OOM killer, a node failure). */
  | { outcome: 'killed'; signal: string }
  | { outcome: 'cancelled' }
  | { outcome: 'timed-out' }
  /** The executor lost track of it (Slurm job vanished from squeue and sacct). */
  | { outcome: 'lost'; reason: string };

export interface Execution {
  /** Executor-specific handle for logs and audit (a pid, a Slurm job id). */
  readonly handle: string;
  /** Resolves once, when every process of the attempt is gone. Never rejects. */
  readonly done: Promise<ExecutionEnd>;
  /** Kill the whole process tree (SIGTERM, then SIGKILL after a grace period); `done` resolves `cancelled`. Idempotent. */
  cancel(): Promise<void>;
}

export interface Executor {
  readonly kind: 'local' | 'slurm';
  /**
   * Start the attempt. `onLine` gets each line of the trainer's stdout and stderr, in order per
   * stream, without the newline, as soon as the executor sees it (Slurm: by following the job's
   * output files). Throws SluiceError (SLUICE_E_TRAINING_*) when it cannot start at all.
   */
  start(spec: ExecutionSpec, onLine: (stream: 'stdout' | 'stderr', line: string) => void): Promise<Execution>;
}
