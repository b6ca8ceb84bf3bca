// The extensions the WebSocket and image tests start their gateway with.
import type { GatewayExtension } from '../../../gateway/index.js';
import { imagePreprocessor } from '../../../gateway/preprocess/index.js';
import { websocketEndpoint, type WebSocketOptions } from '../../../gateway/server/ws-gateway.js';

export function GATEWAY_EXTENSIONS(ws: WebSocketOptions = {}): GatewayExtension[] {
  return [websocketEndpoint(ws), (ctx) => ctx.inference.setPreprocessor(imagePreprocessor())];
}
