// The HTTP ceiling: uWebSockets.js reading each request body and answering a fixed response,
// doing nothing else. What the load generator and the HTTP layer can do on this machine, with
// the same calls the model servers get. Started by the runner: node fixed-server.js [--port N]
import uWS from 'uWebSockets.js';
import { childArgs } from './args.js';

const args = childArgs(process.argv.slice(2));
const FIXED = Buffer.from('{"model_name":"fixed","model_version":"1","outputs":[]}');

const app = uWS.App();
app.any('/*', (res) => {
  let aborted = false;
  res.onAborted(() => {
    aborted = true;
  });
  res.onData((_chunk, isLast) => {
    if (!isLast || aborted) return;
    res.cork(() => res.writeStatus('200 OK').writeHeader('content-type', 'application/json').end(FIXED));
  });
});
let listenSocket: uWS.us_listen_socket | null = null;
app.listen('127.0.0.1', Number(args.get('port') ?? 0), (token) => {
  listenSocket = token;
  if (!token) {
    process.stderr.write('fixed-server: listen failed\n');
    process.exit(1);
  }
  process.stdout.write(`uws-fixed listening on http://127.0.0.1:${uWS.us_socket_local_port(token)}\n`);
});
const stop = () => {
  if (listenSocket) uWS.us_listen_socket_close(listenSocket);
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
