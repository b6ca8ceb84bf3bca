import t from 'tap';
import { ResponseParser, ResponseParseError, type HttpResponse } from '../../bench/load/response-parser.js';

function collect(): { parser: ResponseParser; got: HttpResponse[] } {
  const got: HttpResponse[] = [];
  return { parser: new ResponseParser((r) => got.push(r)), got };
}

t.test('a content-length response split across many chunks is assembled once', async (t) => {
  const { parser, got } = collect();
  const raw = Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}');
  for (let i = 0; i < raw.length; i += 7) parser.feed(raw.subarray(i, i + 7));
  t.equal(got.length, 1);
  t.equal(got[0]!.status, 200);
  t.equal(got[0]!.headers['content-type'], 'application/json');
  t.equal(got[0]!.body.toString(), '{"ok":true}');
});

t.test('two responses in one chunk are both delivered, in order', async (t) => {
  const { parser, got } = collect();
  parser.feed(Buffer.from('HTTP/1.1 503 Service Unavailable\r\ncontent-length: 2\r\nretry-after: 1\r\n\r\nnoHTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nyes'));
  t.same(got.map((r) => [r.status, r.body.toString()]), [[503, 'no'], [200, 'yes']]);
  t.equal(got[0]!.headers['retry-after'], '1');
});

t.test('chunked bodies are reassembled and trailers skipped', async (t) => {
  const { parser, got } = collect();
  parser.feed(Buffer.from('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n'));
  t.equal(got.length, 0, 'not complete before the final CRLF');
  parser.feed(Buffer.from('\r\n'));
  t.equal(got[0]!.body.toString(), 'hello world');
});

t.test('a 204 without content-length has an empty body', async (t) => {
  const { parser, got } = collect();
  parser.feed(Buffer.from('HTTP/1.1 204 No Content\r\n\r\n'));
  t.equal(got[0]!.status, 204);
  t.equal(got[0]!.body.length, 0);
});

t.test('unframed or garbled responses are errors, not hangs', async (t) => {
  t.throws(() => collect().parser.feed(Buffer.from('HTTP/1.1 200 OK\r\n\r\nbody')), ResponseParseError);
  t.throws(() => collect().parser.feed(Buffer.from('SMTP ready\r\n\r\n')), ResponseParseError);
  t.throws(() => collect().parser.feed(Buffer.from('HTTP/1.1 200 OK\r\ncontent-length: -3\r\n\r\n')), ResponseParseError);
});

t.test('reset() drops a half-read response', async (t) => {
  const { parser, got } = collect();
  parser.feed(Buffer.from('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc'));
  parser.reset();
  parser.feed(Buffer.from('HTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n'));
  t.same(got.map((r) => r.status), [201]);
});
