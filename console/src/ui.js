// Small shared pieces: the html tag, loading/error states, a polling hook, formatting.
import { h } from 'preact';
import { useEffect, useState, useCallback } from 'preact/hooks';
import htm from 'htm';

export const html = htm.bind(h);

/** Run `load` now and every `everyMs` (0: once); re-run when deps change. */
export function useQuery(load, deps, everyMs = 0) {
  const [state, setState] = useState({ data: undefined, error: undefined });
  const reload = useCallback(() => {
    load().then((data) => setState({ data, error: undefined }), (error) => setState((s) => ({ data: s.data, error })));
  }, deps);
  useEffect(() => {
    reload();
    if (!everyMs) return undefined;
    const timer = setInterval(reload, everyMs);
    return () => clearInterval(timer);
  }, [reload]);
  return { ...state, reload };
}

export function Failure({ error }) {
  if (!error) return null;
  return html`<div class="failure" role="alert"><b>${error.code ?? 'error'}</b> ${error.message}</div>`;
}

export function Loading({ q, children }) {
  if (q.error && q.data === undefined) return html`<${Failure} error=${q.error} />`;
  if (q.data === undefined) return html`<p class="muted">Loading…</p>`;
  return html`${q.error ? html`<${Failure} error=${q.error} />` : null}${children(q.data)}`;
}

export function when(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return d.toISOString().replace('T', ' ').slice(0, 19);
}

export function num(v, digits = 3) {
  if (v === null || v === undefined) return '—';
  if (Number.isInteger(v)) return String(v);
  return Number(v).toPrecision(digits);
}

export function Badge({ kind, children }) {
  return html`<span class=${`badge ${kind ?? ''}`}>${children}</span>`;
}

export const link = (path) => `#${path}`;
