// A call's deadline (parameters.timeout_us) counts from when its headers were read
// (gateway/inference/inference-service.ts), so time spent receiving the body spends it too.
import t from 'tap';
import net from 'node:net';
import { copyModels, startTestGateway } from '../gateway-harness.js';
import { loadWeather, weatherFeatures } from '../../../examples/weather-dataset.js';

const day = weatherFeatures(loadWeather().days[0]!);

/** POST the body in two halves, `pauseMs` apart; resolves with the status line's code and the body. */
function slowPost(port: number, path: string, body: string, pauseMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let reply = '';
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      const end = reply.indexOf('\r\n\r\n');
      const length = /content-length: (\d+)/i.exec(reply);
      if (end >= 0 && length && reply.length >= end + 4 + Number(length[1])) {
        socket.end();
        resolve({ status: Number(reply.split(' ')[1]), body: reply.slice(end + 4) });
      }
    });
    socket.on('error', reject);
    const half = Math.floor(body.length / 2);
    socket.write(`POST ${path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, half)}`);
    setTimeout(() => socket.write(body.slice(half)), pauseMs);
  });
}

function call(timeoutUs: number): string {
  return JSON.stringify({ parameters: { timeout_us: timeoutUs }, inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 5], data: day }] });
}

t.test('a body that arrives after the deadline is answered 504 SLUICE_E_BATCH_TIMEOUT, not run', async (t) => {
  const gw = await startTestGateway(t, copyModels(t, ['weather']));
  const late = await slowPost(gw.port, '/v2/models/weather/infer', call(100_000), 300);
  t.equal(late.status, 504);
  t.equal(JSON.parse(late.body).code, 'SLUICE_E_BATCH_TIMEOUT');
  const inTime = await slowPost(gw.port, '/v2/models/weather/infer', call(5_000_000), 300);
  t.equal(inTime.status, 200, 'a deadline longer than the upload is kept');
});
