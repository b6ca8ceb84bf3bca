export { SluiceWsClient, WsCallError, WsClosedError, type ConnectOptions, type FeedbackEntry, type FeedbackResult, type InferOptions, type InferRequest, type InferResult } from './ws-client.js';
export type { ClientDatatype, ClientTensor, ClientTensorData, TypedTensorData } from './client-tensors.js';
