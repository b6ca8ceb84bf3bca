// Wires the /v2/ws endpoint to a gateway as an extension: frames are decoded with the same OIP
// codec as HTTP bodies and every call goes through the same InferenceService (routing, batching,
// preprocessing, metrics, answer ids), so a WebSocket call and an HTTP call differ only in
// transport. A `feedback` frame goes to the same GroundTruth as POST .../feedback.
import type { GatewayContext, GatewayExtension } from '../context.js';
import { parseFeedbackBody, type FeedbackItem } from '../feedback/feedback-items.js';
import { decodeInferenceRequest, encodeInferenceResponse } from './oip-codec.js';
import { registerWsEndpoint, WS_DEFAULTS, type WsAnswer, type WsEndpointOptions, type WsInferContext } from './ws-endpoint.js';
import type { WsCall } from './ws-frame-codec.js';
import { WS_TOKEN_PROTOCOL, type Grant } from '../access/access-policy.js';
import { replyError } from '../feedback/feedback-forwarding.js';
import { admissionOf } from './admission.js';
import type { CallTrace } from '../tracing/tracing.js';

export type WebSocketOptions = Partial<Pick<WsEndpointOptions<unknown>,
  'maxMessageBytes' | 'maxInFlight' | 'pauseBufferedBytes' | 'maxBufferedBytes' | 'idleTimeoutSeconds'>>;

interface DecodeTimer {
  observe(seconds: number): void;
}

/**
 * Who opened a connection: the grant its token carries, and its Authorization as sent (or built
 * from the browser's subprotocol), which feedback another gateway holds is forwarded with.
 */
interface WsCaller {
  grant: Grant | undefined;
  authorization: string;
}

function upgradeAuthorization(headers: ReadonlyMap<string, string>): string {
  const sent = headers.get('authorization') ?? '';
  if (sent !== '') return sent;
  const entry = (headers.get('sec-websocket-protocol') ?? '').split(',').map((p) => p.trim()).find((p) => p.startsWith(WS_TOKEN_PROTOCOL));
  return entry === undefined ? '' : `Bearer ${entry.slice(WS_TOKEN_PROTOCOL.length)}`;
}

async function inferCall(ctx: GatewayContext, decodeTimers: [json: DecodeTimer, binary: DecodeTimer], call: WsCall, c: WsInferContext<WsCaller>): Promise<WsAnswer> {
  // Scope and rate per call, before its tensors are decoded; a token revoked since the upgrade stops here.
  ctx.access.checkCall(c.principal.grant, call.model);
  if (call.type === 'feedback') return feedbackCall(ctx, call, c.principal.authorization);
  const decodeStart = performance.now();
  // The frame's id is the endpoint's to echo, its trace fields are the call's W3C trace context; the rest is an OIP request body.
  const { id: _id, model_name: _name, model_version: _version, type: _type, traceparent, tracestate, ...body } = call.request;
  const tracing = ctx.inference.tracing;
  const trace = tracing === undefined ? undefined : tracing.begin(stringField(traceparent), stringField(tracestate), call.model, call.receivedAt ?? decodeStart);
  try {
    return await tracedCall(ctx, decodeTimers, call, c, body, decodeStart, trace);
  } catch (err) {
    if (trace !== undefined) trace.tracing.finish(trace, err);
    throw err;
  }
}

async function tracedCall(
  ctx: GatewayContext, decodeTimers: [json: DecodeTimer, binary: DecodeTimer], call: WsCall, c: WsInferContext<WsCaller>,
  body: Record<string, unknown>, decodeStart: number, trace: CallTrace | undefined,
): Promise<WsAnswer> {
  const decoded = decodeInferenceRequest(body, call.binary);
  const decodeEnd = performance.now();
  decodeTimers[call.binary ? 1 : 0].observe((decodeEnd - decodeStart) / 1000);
  if (trace !== undefined) {
    trace.decodeStart = decodeStart;
    trace.decodeEnd = decodeEnd;
  }
  // A binary call gets binary outputs unless it says otherwise (request or per output).
  if (c.binary && decoded.binaryOutput === undefined) decoded.binaryOutput = true;
  // The frame's id is also the answer's id for feedback. One object literal of a fixed shape, as the
  // HTTP route builds it (a spread of `decoded` is slow in V8 here: docs/batching.md).
  const response = await ctx.inference.infer({
    model: call.model, version: call.version, id: call.id, inputs: decoded.inputs, outputs: decoded.outputs, binaryOutput: decoded.binaryOutput,
    parameters: decoded.parameters, signal: c.signal, receivedAt: call.receivedAt, trace,
  });
  // The connection puts the id in front of the answer itself.
  response.id = undefined;
  if (trace === undefined) {
    const encoded = encodeInferenceResponse(response);
    return { json: encoded.header, binary: encoded.binary };
  }
  trace.encodeStart = performance.now();
  const encoded = encodeInferenceResponse(response);
  // The answer carries the trace as top-level fields, like the frame that asked (the header is a JSON object).
  const state = trace.tracestate;
  const json = `{"traceparent":"${trace.traceparent}",${state === undefined ? '' : `"tracestate":${JSON.stringify(state)},`}${encoded.header.slice(1)}`;
  trace.encodeEnd = performance.now();
  trace.tracing.finish(trace);
  return { json, binary: encoded.binary };
}

/** A frame's trace field: only a string is one (anything else starts a new trace, like a malformed one). */
function stringField(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/**
 * Feedback for the answer named by the frame's id, or for the answers its `feedback` list names;
 * what another gateway holds is forwarded to it, as over HTTP.
 */
async function feedbackCall(ctx: GatewayContext, call: WsCall, authorization: string): Promise<WsAnswer> {
  const { id, model_name: _name, model_version: _version, type: _type, ...rest } = call.request;
  const batch = rest.feedback !== undefined;
  const items: FeedbackItem[] = parseFeedbackBody(batch ? rest : { ...rest, id });
  const reply = await ctx.inference.feedbackForwarding.give({ model: call.model, version: call.version, items, batch, authorization, forwarded: false });
  if (reply.status !== 200) throw replyError(reply);
  const accepted = reply.accepted ?? (JSON.parse(reply.body) as { accepted: unknown }).accepted;
  return { json: JSON.stringify({ type: 'feedback', accepted }) };
}

/** The WebSocket endpoint as a gateway extension; its close hook ends connections with 1001. */
export function websocketEndpoint(options: WebSocketOptions = {}): GatewayExtension {
  return (ctx) => {
    const decodeTimers: [DecodeTimer, DecodeTimer] = [
      ctx.metrics.decodeDuration.labels({ protocol: 'ws_json' }),
      ctx.metrics.decodeDuration.labels({ protocol: 'ws_binary' }),
    ];
    const endpoint = registerWsEndpoint<WsCaller>(ctx.app, {
      ...WS_DEFAULTS,
      // A message is a request body: the same limit as HTTP unless set apart.
      maxMessageBytes: ctx.options.maxBodyBytes,
      ...options,
      // Origin and token on the upgrade (Authorization, or a sluice.bearer.<token> subprotocol for browsers).
      authenticate: (headers) => ({ grant: ctx.access.authenticateUpgrade(headers), authorization: upgradeAuthorization(headers) }),
      infer: (call, c) => inferCall(ctx, decodeTimers, call, c),
      // The same body budget and shedding as the HTTP routes.
      admission: admissionOf(ctx.app),
      onEvent: (e) => {
        if (e.type === 'slow-reader' || e.type === 'framing-error') ctx.logger.warn({ ws: e }, 'websocket closed by the gateway');
      },
    });
    return { close: () => endpoint.closeAll() };
  };
}
