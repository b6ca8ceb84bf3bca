import t from 'tap';
import { connect } from 'node:net';
import uWS from 'uWebSockets.js';
import { HttpCall, route } from '../../../gateway/server/http-io.js';

/** A real uWS app on 127.0.0.1 whose one route keeps its call open; `onCall` sees each HttpCall. */
async function server(t: { teardown(fn: () => unknown): void }, onCall: (call: HttpCall) => void): Promise<number> {
  const app = uWS.App();
  route(app, 'post', ['/hold'], (call) => onCall(call));
  const socket = await new Promise<uWS.us_listen_socket>((resolve, reject) => app.listen('127.0.0.1', 0, (s) => (s ? resolve(s) : reject(new Error('listen failed')))));
  t.teardown(() => uWS.us_listen_socket_close(socket));
  return uWS.us_socket_local_port(socket);
}

/** Send a POST with its whole body, then drop the connection before any answer. */
async function callAndHangUp(port: number): Promise<void> {
  const s = connect(port, '127.0.0.1');
  await new Promise((resolve) => s.once('connect', resolve));
  s.write('POST /hold HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}');
  await new Promise((resolve) => setTimeout(resolve, 100));
  s.destroy();
}

/**
 * One call to a route that hands its HttpCall to `listen` (which adds and removes listeners naming
 * themselves by pushing to `fired`), then the client hangs up; resolves once a last listener, added
 * after the others, has fired: the call and what fired.
 */
async function hangUpOn(t: { teardown(fn: () => unknown): void }, listen: (c: HttpCall, fired: string[]) => void): Promise<{ call: HttpCall; fired: string[] }> {
  const fired: string[] = [];
  return new Promise((resolve) => {
    void server(t, (c) => {
      listen(c, fired);
      c.addEventListener('abort', () => {
        fired.push('last');
        resolve({ call: c, fired });
      });
    }).then(callAndHangUp);
  });
}

t.test('abort listeners: each one still added fires once when the client goes away, a removed one does not', async (t) => {
  const { call, fired } = await hangUpOn(t, (c, fired) => {
    const a = () => fired.push('a');
    c.addEventListener('abort', a);
    c.addEventListener('abort', () => fired.push('b'));
    c.addEventListener('abort', () => fired.push('c'));
    c.removeEventListener('abort', a);
  });
  t.equal(call.aborted, true);
  t.same([...fired].sort(), ['b', 'c', 'last'], 'b, c and the last fired, a was removed first');
});

t.test('abort listeners: the only one, removed, does not fire; a later one does', async (t) => {
  const { fired } = await hangUpOn(t, (c, fired) => {
    const a = () => fired.push('a');
    c.addEventListener('abort', a);
    c.removeEventListener('abort', a);
    c.removeEventListener('abort', a);
  });
  t.same(fired, ['last']);
});
