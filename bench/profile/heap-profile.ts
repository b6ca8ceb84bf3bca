// Reads a V8 sampling heap profile (the inspector's HeapProfiler.stopSampling) taken with the
// objects the young and old generation collectors freed kept in it: then it counts every byte
// allocated, not only what was still alive, and ranks functions by the bytes they allocated
// themselves. Issue 20's "allocation per call": bench/profile/alloc-per-call.ts.
import { label } from './cpu-profile.js';

export interface HeapProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  selfSize: number;
  children: HeapProfileNode[];
}

export interface HeapProfile {
  head: HeapProfileNode;
}

export interface SelfBytes {
  /** "name (file:line)" */
  fn: string;
  bytes: number;
}

/** Every function's self-allocated bytes (sampled), highest first, and their total. */
export function selfBytes(profile: HeapProfile): { total: number; byFunction: SelfBytes[] } {
  const by = new Map<string, number>();
  let total = 0;
  // An explicit stack: a deep call tree must not overflow ours.
  const stack: HeapProfileNode[] = [profile.head];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (n.selfSize > 0) {
      total += n.selfSize;
      const key = label(n.callFrame);
      by.set(key, (by.get(key) ?? 0) + n.selfSize);
    }
    for (const c of n.children) stack.push(c);
  }
  const byFunction = [...by].map(([fn, bytes]) => ({ fn, bytes })).sort((a, b) => b.bytes - a.bytes);
  return { total, byFunction };
}
