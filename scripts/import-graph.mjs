#!/usr/bin/env node
// Prints the import graph of gateway/ by room and exits 1 on any circular or upward import.
//
// A request walks down the rooms once (STYLE.md): a module may import its own room or any room
// below it, never one above, and no chain of imports may come back to where it started (type-only
// imports count too: a type cycle is a boundary in the wrong place all the same).
//
//   node scripts/import-graph.mjs [repo root]      (reads the .ts sources, no build needed)
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The rooms from the top of the request path to the bottom. A room is a folder under gateway/ or
 * a single module; `foundation` holds the model schema and tensor types that every stage reads
 * (they import nothing from gateway/ but each other).
 */
export const ROOMS = [
  ['entry', ['gateway/index.ts', 'gateway/client/']],
  ['server', ['gateway/server/', 'gateway/sync/', 'gateway/payload-log/']],
  ['context', ['gateway/context.ts']],
  ['access', ['gateway/access/']],
  ['inference', ['gateway/inference/']],
  ['feedback', ['gateway/feedback/']],
  ['explain', ['gateway/explain/']],
  ['preprocess', ['gateway/preprocess/']],
  ['models', ['gateway/models/']],
  ['routing', ['gateway/routing/']],
  ['batching', ['gateway/batching/']],
  ['workers', ['gateway/workers/']],
  ['drift', ['gateway/drift/']],
  ['metrics', ['gateway/metrics/']],
  ['tracing', ['gateway/tracing/']],
  ['util', ['gateway/util/']],
  ['foundation', ['gateway/models/config.ts', 'gateway/models/slices-config.ts', 'gateway/models/tensors.ts']],
  ['lib', ['lib/']],
  ['native', ['native/']],
];

/** The room of a repo-relative path: the longest matching prefix wins (a module before its folder). */
export function roomOf(file) {
  let best;
  let bestLength = -1;
  for (let rank = 0; rank < ROOMS.length; rank++) {
    for (const prefix of ROOMS[rank][1]) {
      const hit = prefix.endsWith('/') ? file.startsWith(prefix) : file === prefix;
      if (hit && prefix.length > bestLength) {
        best = rank;
        bestLength = prefix.length;
      }
    }
  }
  return best;
}

function sourcesUnder(root, dir) {
  const out = [];
  for (const name of readdirSync(path.join(root, dir))) {
    const rel = `${dir}/${name}`;
    if (statSync(path.join(root, rel)).isDirectory()) out.push(...sourcesUnder(root, rel));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\b[^'"]*?\bfrom\s*['"](\.{1,2}\/[^'"]+)['"]|\bimport\s*\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

/** Relative imports of one source file, as repo-relative .ts paths. */
export function importsOf(root, file) {
  const text = readFileSync(path.join(root, file), 'utf8');
  const out = new Set();
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2];
    const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)).replace(/\.js$/, '.ts');
    out.add(target);
  }
  return [...out];
}

/** Every upward import and every cycle among the gateway's modules. */
export function checkGraph(root) {
  const files = sourcesUnder(root, 'gateway');
  const edges = new Map(files.map((f) => [f, importsOf(root, f)]));
  const upward = [];
  const unplaced = [];
  const roomEdges = new Map();
  for (const [from, targets] of edges) {
    const a = roomOf(from);
    if (a === undefined) unplaced.push(from);
    for (const to of targets) {
      const b = roomOf(to);
      if (b === undefined) {
        unplaced.push(to);
        continue;
      }
      if (a !== undefined && b < a) upward.push({ from, to, fromRoom: ROOMS[a][0], toRoom: ROOMS[b][0] });
      if (a !== undefined && a !== b) {
        const key = `${ROOMS[a][0]} -> ${ROOMS[b][0]}`;
        roomEdges.set(key, (roomEdges.get(key) ?? 0) + 1);
      }
    }
  }
  return { files, upward, cycles: cyclesOf(edges), unplaced: [...new Set(unplaced)], roomEdges };
}

/** Strongly connected components of more than one module (or a module importing itself): Tarjan. */
function cyclesOf(edges) {
  let index = 0;
  const stack = [];
  const state = new Map();
  const cycles = [];
  const visit = (v) => {
    const s = { index, low: index, onStack: true };
    index++;
    state.set(v, s);
    stack.push(v);
    for (const w of edges.get(v) ?? []) {
      if (!edges.has(w)) continue;
      const t = state.get(w);
      if (t === undefined) {
        visit(w);
        s.low = Math.min(s.low, state.get(w).low);
      } else if (t.onStack) s.low = Math.min(s.low, t.index);
    }
    if (s.low === s.index) {
      const component = [];
      let w;
      do {
        w = stack.pop();
        state.get(w).onStack = false;
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (edges.get(v) ?? []).includes(v)) cycles.push(component.sort());
    }
  };
  for (const v of edges.keys()) if (!state.has(v)) visit(v);
  return cycles;
}

export function report(result) {
  const lines = ['rooms, top to bottom (a module may import its own room or any below):'];
  for (let rank = 0; rank < ROOMS.length; rank++) {
    const [name, prefixes] = ROOMS[rank];
    const count = result.files.filter((f) => roomOf(f) === rank).length;
    lines.push(`  ${String(rank).padStart(2)} ${name.padEnd(11)} ${prefixes.join(' ')}${count ? ` (${count} modules)` : ''}`);
  }
  lines.push('', 'imports between rooms (count of import lines):');
  for (const [edge, n] of [...result.roomEdges].sort()) lines.push(`  ${edge}  ${n}`);
  lines.push('');
  for (const u of result.upward) lines.push(`UPWARD   ${u.from} (${u.fromRoom}) -> ${u.to} (${u.toRoom})`);
  for (const c of result.cycles) lines.push(`CIRCULAR ${c.join(' <-> ')}`);
  for (const f of result.unplaced) lines.push(`NO ROOM  ${f}`);
  lines.push(`${result.files.length} modules, ${result.upward.length} upward imports, ${result.cycles.length} import cycles, ${result.unplaced.length} modules outside any room`);
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const root = path.resolve(process.argv[2] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..'));
  const result = checkGraph(root);
  console.log(report(result));
  process.exitCode = result.upward.length + result.cycles.length + result.unplaced.length === 0 ? 0 : 1;
}
