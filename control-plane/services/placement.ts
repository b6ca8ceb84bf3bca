// Placement (issue 19): which gateways serve a model, chosen by a label selector on the model, like
// Kubernetes' equality-based selectors: `pool=gpu,region!=us` holds for a gateway whose labels have
// every `key=value` and none of the `key!=value` terms; a key a gateway lacks equals nothing. The
// key `region` reads the gateway's region (registerGateway's `region`) when it has one, so
// `region=eu` means what residency's regions mean. A gateway the selector does not hold for gets a
// desired state without the model (desired-state.ts), exactly as a gateway outside the model's
// residency regions does: both must allow a gateway for it to serve the model. Placement is
// scheduling, not a data boundary: artifact downloads are refused by residency only.
// Parsed by hand: the grammar is two operators over a comma-separated list.
import { SluiceError } from '../../lib/errors.js';
import type { Store } from '../store/db.js';
import type { CallContext } from './actor.js';
import type { AuditLog } from './audit.js';

const KEY = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$/;
const VALUE = /^[A-Za-z0-9._-]{0,63}$/;
const MAX_TERMS = 16;

export interface SelectorTerm {
  key: string;
  op: '=' | '!=';
  value: string;
}

/** What a selector is matched against. */
export interface PlacedGateway {
  region: string;
  labels: Readonly<Record<string, string>>;
}

function invalid(selector: string, message: string): SluiceError {
  return new SluiceError('SLUICE_E_PLACEMENT_INVALID', `selector "${selector}": ${message}`, { details: { field: 'selector', selector } });
}

/** Parse `key=value,key!=value` (spaces around terms allowed); throws SLUICE_E_PLACEMENT_INVALID naming the bad term. */
export function parseSelector(selector: string): SelectorTerm[] {
  if (typeof selector !== 'string' || selector.trim() === '') throw invalid(String(selector), 'give at least one key=value term (null places the model everywhere)');
  const terms = selector.split(',').map((raw) => {
    const term = raw.trim();
    const at = term.indexOf('!=') >= 0 ? term.indexOf('!=') : term.indexOf('=');
    if (at <= 0) throw invalid(selector, `"${term}" is not key=value or key!=value`);
    const op = term[at] === '!' ? '!=' : '=';
    const key = term.slice(0, at).trim();
    const value = term.slice(at + op.length).trim();
    if (!KEY.test(key)) throw invalid(selector, `key "${key}" must be 1-63 of letters, digits, ".", "_", "/", "-"`);
    if (!VALUE.test(value)) throw invalid(selector, `value "${value}" of ${key} must be at most 63 of letters, digits, ".", "_", "-"`);
    return { key, op, value } as SelectorTerm;
  });
  if (terms.length > MAX_TERMS) throw invalid(selector, `at most ${MAX_TERMS} terms`);
  const seen = new Set<string>();
  for (const t of terms) {
    const id = `${t.key}${t.op}${t.value}`;
    if (seen.has(id)) throw invalid(selector, `"${id}" is given twice`);
    seen.add(id);
  }
  return terms;
}

/** The canonical text of a selector: terms sorted, no spaces (what is stored and shown). */
export function formatSelector(terms: readonly SelectorTerm[]): string {
  return terms
    .map((t) => `${t.key}${t.op}${t.value}`)
    .sort()
    .join(',');
}

/** Whether a gateway is selected; a null selector selects every gateway. */
export function selectorAllows(terms: readonly SelectorTerm[] | null, gateway: PlacedGateway): boolean {
  if (terms === null) return true;
  return terms.every((t) => {
    const have = t.key === 'region' && gateway.region !== '' ? gateway.region : Object.hasOwn(gateway.labels, t.key) ? gateway.labels[t.key] : undefined;
    return t.op === '=' ? have === t.value : have !== t.value;
  });
}

/** The stored column, parsed (it was canonical when written). */
export function parsePlacement(column: string | null | undefined): SelectorTerm[] | null {
  return column === null || column === undefined ? null : parseSelector(column);
}

export class PlacementService {
  constructor(
    private readonly store: Store,
    private readonly audit: AuditLog,
    private readonly changed: () => void,
  ) {}

  /** The canonical selector of `model`; null: every gateway. */
  async placementOf(model: string): Promise<string | null> {
    const row = await this.store.db.selectFrom('models').select('placement').where('name', '=', model).executeTakeFirst();
    if (!row) throw new SluiceError('SLUICE_E_STORE_NOT_FOUND', `no model ${model}`, { details: { model } });
    return row.placement ?? null;
  }

  /** Serve `model` only on the gateways `selector` selects (null: on all); audited with before and after. */
  async setPlacement(ctx: CallContext, model: string, selector: string | null): Promise<string | null> {
    const after = selector === null ? null : formatSelector(parseSelector(selector));
    const result = await this.audit.audited(ctx, 'model.set_placement', `model/${model}`, async (tx) => {
      const row = await this.store.forUpdate(tx.selectFrom('models').select(['id', 'placement']).where('name', '=', model)).executeTakeFirst();
      if (!row) throw new SluiceError('SLUICE_E_STORE_NOT_FOUND', `no model ${model}`, { details: { model } });
      await tx.updateTable('models').set({ placement: after }).where('id', '=', row.id).execute();
      return { result: after, before: { placement: row.placement ?? null }, after: { placement: after } };
    });
    this.changed();
    return result;
  }
}
