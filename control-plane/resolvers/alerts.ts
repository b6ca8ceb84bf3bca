import { SluiceError } from '../../lib/errors.js';
import type { AlertRuleInput, AlertRulePatch } from '../services/alert-rules.js';
import type { AlertRule, AlertView, SilenceInput } from '../services/alerts.js';
import type { AlertState } from '../services/lifecycle.js';
import type { PageArgs } from '../services/pagination.js';
import type { Webhook, WebhookInput } from '../services/webhooks.js';
import { authorize, keyValues, type GraphQLContext } from './context.js';

const MAX_DELIVERIES = 100;

type KeyValueArgs<T> = Omit<T, 'labels'> & { labels?: { key: string; value: string }[] | null };

function lastOf(last: number | null | undefined): number {
  if (last === null || last === undefined) return 20;
  if (!Number.isInteger(last) || last < 1 || last > MAX_DELIVERIES) {
    throw new SluiceError('SLUICE_E_VALIDATION', `last must be between 1 and ${MAX_DELIVERIES}`, { details: { argument: 'last', max: MAX_DELIVERIES } });
  }
  return last;
}

export const alertResolvers = {
  AlertState: { PENDING: 'pending', FIRING: 'firing', RESOLVED: 'resolved' },
  AlertSeverity: { INFO: 'info', WARNING: 'warning', CRITICAL: 'critical' },
  WebhookKind: { GENERIC: 'generic', SLACK: 'slack', PAGERDUTY: 'pagerduty' },
  WebhookDeliveryState: { PENDING: 'pending', DELIVERED: 'delivered', FAILED: 'failed' },
  AlertRule: {
    labels: (r: AlertRule) => keyValues(r.labels),
  },
  Alert: {
    rule: (a: AlertView) => a.ruleName,
    deliveries: (a: AlertView, _: unknown, ctx: GraphQLContext) => ctx.services.webhooks.deliveries({ alertId: a.id }),
  },
  Webhook: {
    deliveries: (w: Webhook, args: { last?: number | null }, ctx: GraphQLContext) => ctx.services.webhooks.deliveries({ webhook: w.name }, lastOf(args.last)),
  },
  Query: {
    async alerts(_: unknown, args: PageArgs & { model?: string | null; state?: AlertState | null }, ctx: GraphQLContext) {
      await authorize(ctx, 'alert:read', 'alert.list', args.model ? `model/${args.model}` : 'alerts');
      return ctx.services.alerts.page({ model: args.model ?? undefined, state: args.state ?? undefined }, args);
    },
    async alert(_: unknown, args: { id: string }, ctx: GraphQLContext) {
      await authorize(ctx, 'alert:read', 'alert.read', `alert/${args.id}`);
      return ctx.services.alerts.get(args.id);
    },
    async alertRules(_: unknown, args: { model?: string | null }, ctx: GraphQLContext) {
      await authorize(ctx, 'alert:read', 'alert-rule.list', args.model ? `model/${args.model}` : 'alert-rules');
      return ctx.services.alerts.rules(args.model);
    },
    async webhooks(_: unknown, _args: unknown, ctx: GraphQLContext) {
      await authorize(ctx, 'alert:write', 'webhook.list', 'webhooks');
      return ctx.services.webhooks.list();
    },
    async fleetFigures(_: unknown, args: { model: string; from: string; to?: string | null }, ctx: GraphQLContext) {
      await authorize(ctx, 'alert:read', 'fleet-figures.read', `model/${args.model}`);
      return ctx.services.traffic.fleetFigures(args.model, args.from, args.to ?? undefined);
    },
  },
  Mutation: {
    async createAlertRule(_: unknown, { input }: { input: KeyValueArgs<AlertRuleInput> }, ctx: GraphQLContext) {
      await authorize(ctx, 'alert:write', 'alert-rule.create', `alert-rule/${input.name}`);
      return ctx.services.alerts.createRule(ctx.call, input);
    },
    async updateAlertRule(_: unknown, args: { name: string; patch: AlertRulePatch }, ctx: GraphQLContext) {
      await authorize(ctx, 'alert:write', 'alert-rule.update', `alert-rule/${args.name}`);
      return ctx.services.alerts.updateRule(ctx.call, args.name, args.patch);
    },
    async deleteAlertRule(_: unknown, args: { name: string }, ctx: GraphQLContext) {
      await authorize(ctx, 'alert:write', 'alert-rule.delete', `alert-rule/${args.name}`);
      return ctx.services.alerts.deleteRule(ctx.call, args.name);
    },
    async createWebhook(_: unknown, { input }: { input: WebhookInput }, ctx: GraphQLContext) {
      await authorize(ctx, 'alert:write', 'webhook.create', `webhook/${input.name}`);
      return ctx.services.webhooks.create(ctx.call, input);
    },
    async deleteWebhook(_: unknown, args: { name: string }, ctx: GraphQLContext) {
      await authorize(ctx, 'alert:write', 'webhook.delete', `webhook/${args.name}`);
      return ctx.services.webhooks.delete(ctx.call, args.name);
    },
    async silenceAlert(_: unknown, { input }: { input: SilenceInput }, ctx: GraphQLContext) {
      await authorize(ctx, 'alert:write', 'alert.silence', input.alert ? `alert/${input.alert}` : `alert-rule/${input.rule ?? ''}`);
      return ctx.services.alerts.silence(ctx.call, input);
    },
    async unsilenceAlert(_: unknown, { input }: { input: Pick<SilenceInput, 'alert' | 'rule'> }, ctx: GraphQLContext) {
      await authorize(ctx, 'alert:write', 'alert.unsilence', input.alert ? `alert/${input.alert}` : `alert-rule/${input.rule ?? ''}`);
      return ctx.services.alerts.unsilence(ctx.call, input);
    },
  },
};
