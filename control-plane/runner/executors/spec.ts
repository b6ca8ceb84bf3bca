// What both executors check before they start anything, and the wall-clock deadline they share.
import { statSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { SluiceError } from '../../../lib/errors.js';
import type { ExecutionSpec } from '../executor.js';

/** Refuse a spec that cannot run, naming the field: SLUICE_E_TRAINING_START. */
export function checkSpec(spec: ExecutionSpec): void {
  const refuse = (what: string) => {
    throw new SluiceError('SLUICE_E_TRAINING_START', `cannot start ${spec.jobId ?? '?'} attempt ${spec.attempt ?? '?'}: ${what}`);
  };
  if (!Array.isArray(spec.command) || spec.command.length === 0 || !spec.command.every((a) => typeof a === 'string') || spec.command[0] === '') {
    refuse('command must be a non-empty list of strings');
  }
  for (const [k, v] of Object.entries(spec.env ?? {})) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) refuse(`environment name ${JSON.stringify(k)} is not a valid variable name`);
    if (typeof v !== 'string' || v.includes('\0')) refuse(`environment value of ${k} must be a string without NUL`);
  }
  if (!(typeof spec.timeoutSeconds === 'number' && spec.timeoutSeconds > 0 && Number.isFinite(spec.timeoutSeconds))) {
    refuse(`timeoutSeconds must be a positive number, got ${spec.timeoutSeconds}`);
  }
  if (typeof spec.workDir !== 'string' || !isAbsolute(spec.workDir)) refuse(`workDir must be an absolute path, got ${spec.workDir}`);
  let isDir = false;
  try {
    isDir = statSync(spec.workDir).isDirectory();
  } catch {
    isDir = false;
  }
  if (!isDir) refuse(`workDir ${spec.workDir} is not a directory`);
}

/** The environment a trainer sees: exactly the spec's, plus PATH and HOME (the spec's own win). */
export function trainerEnv(spec: ExecutionSpec): Record<string, string> {
  const env: Record<string, string> = {};
  if (process.env.PATH !== undefined) env.PATH = process.env.PATH;
  if (process.env.HOME !== undefined) env.HOME = process.env.HOME;
  return Object.assign(env, spec.env);
}

// setTimeout fires at once for delays past 2^31-1 ms (~24.8 days), so long limits re-arm.
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Call `fire` once `seconds` of wall-clock time have passed; returns a canceller. */
export function deadline(seconds: number, fire: () => void): () => void {
  const at = Date.now() + seconds * 1000;
  let timer: NodeJS.Timeout;
  const arm = () => {
    const left = at - Date.now();
    if (left <= 0) return fire();
    timer = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
    timer.unref();
  };
  arm();
  return () => clearTimeout(timer);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
