// A real OTLP/HTTP trace receiver for tests: a node:http server that decodes each protobuf
// ExportTraceServiceRequest with protobufjs and keeps the spans. The messages below are the fields
// of opentelemetry-proto's collector/trace/v1/trace_service.proto, trace/v1/trace.proto,
// common/v1/common.proto and resource/v1/resource.proto that a span tree needs, with their field
// numbers as published (unknown fields are skipped by protobuf decoding).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import protobuf from 'protobufjs';

const OTLP_PROTO = `
syntax = "proto3";
package otlp;
message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; string schema_url = 3; }
message Resource { repeated KeyValue attributes = 1; uint32 dropped_attributes_count = 2; }
message ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; string schema_url = 3; }
message InstrumentationScope { string name = 1; string version = 2; }
message Span {
  bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; bytes parent_span_id = 4; fixed32 flags = 16;
  string name = 5; int32 kind = 6; fixed64 start_time_unix_nano = 7; fixed64 end_time_unix_nano = 8;
  repeated KeyValue attributes = 9; repeated Link links = 13; Status status = 15;
}
message Link { bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; repeated KeyValue attributes = 4; fixed32 flags = 6; }
message Status { string message = 2; int32 code = 3; }
message KeyValue { string key = 1; AnyValue value = 2; }
message AnyValue {
  oneof value { string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4; ArrayValue array_value = 5; bytes bytes_value = 7; }
}
message ArrayValue { repeated AnyValue values = 1; }
`;

const Request = protobuf.parse(OTLP_PROTO).root.lookupType('otlp.ExportTraceServiceRequest');

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  traceState: string;
  name: string;
  kind: number;
  startNs: bigint;
  endNs: bigint;
  attributes: Record<string, string | number | boolean>;
  links: { traceId: string; spanId: string }[];
  status: { code: number; message: string };
  service: string;
}

export interface OtlpReceiver {
  url: string;
  spans: ReceivedSpan[];
  /** Export requests received (protobuf bodies), and their content types. */
  requests: string[];
  /** Resolves once `check` holds for the spans received (an export may be in flight when a flush returns). */
  until(check: (spans: ReceivedSpan[]) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

type Decoded = Record<string, unknown>;
const hex = (b: unknown): string => (b instanceof Uint8Array ? Buffer.from(b).toString('hex') : '');

function attributes(list: unknown): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const kv of (list as Decoded[] | undefined) ?? []) {
    const v = (kv.value ?? {}) as Decoded;
    const value = v.stringValue ?? v.boolValue ?? v.doubleValue ?? (v.intValue === undefined ? undefined : Number(String(v.intValue)));
    if (value !== undefined) out[kv.key as string] = value as string | number | boolean;
  }
  return out;
}

function spansOf(body: Buffer): ReceivedSpan[] {
  const msg = Request.toObject(Request.decode(body), { longs: String, bytes: Uint8Array as never, defaults: true }) as Decoded;
  const out: ReceivedSpan[] = [];
  for (const rs of msg.resourceSpans as Decoded[]) {
    const service = String(attributes((rs.resource as Decoded | undefined)?.attributes)['service.name'] ?? '');
    for (const ss of rs.scopeSpans as Decoded[]) {
      for (const s of ss.spans as Decoded[]) {
        const status = (s.status ?? {}) as Decoded;
        out.push({
          traceId: hex(s.traceId), spanId: hex(s.spanId), parentSpanId: hex(s.parentSpanId), traceState: String(s.traceState),
          name: String(s.name), kind: Number(s.kind), startNs: BigInt(String(s.startTimeUnixNano)), endNs: BigInt(String(s.endTimeUnixNano)),
          attributes: attributes(s.attributes),
          links: ((s.links as Decoded[] | undefined) ?? []).map((l) => ({ traceId: hex(l.traceId), spanId: hex(l.spanId) })),
          status: { code: Number(status.code ?? 0), message: String(status.message ?? '') },
          service,
        });
      }
    }
  }
  return out;
}

/** Start a receiver on 127.0.0.1; `discard` answers without decoding (the bench's sink). */
export async function startOtlpReceiver(options: { discard?: boolean } = {}): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (!options.discard) {
        requests.push(String(req.headers['content-type']));
        spans.push(...spansOf(Buffer.concat(chunks)));
      }
      // An empty ExportTraceServiceResponse: full success.
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v1/traces`,
    spans,
    requests,
    until: async (check, timeoutMs = 10_000) => {
      const end = Date.now() + timeoutMs;
      while (!check(spans)) {
        if (Date.now() > end) throw new Error(`the receiver did not get the spans expected within ${timeoutMs} ms (has ${spans.length})`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
