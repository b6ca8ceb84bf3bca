// Multipart GraphQL requests (the GraphQL multipart request spec: `operations`, then `map`, then
// the files), handled before yoga sees them so that
//  - the caller is checked from the headers alone (CSRF header, bearer token, a role that may upload
//    anything, the declared length) and refused before one body byte is read; the connection is then
//    cut after at most 1 MiB or 2 s of the body is dropped (so a client reads the refusal rather than
//    a reset), so a refused 1 GiB upload costs the server next to nothing;
//  - each file part streams into the artifact store's temporary folder while it is hashed
//    (ArtifactStore.stage), so an upload is never whole in memory; the resolvers receive the staged
//    files in place of the File variables, and every staged file not committed by then is removed
//    when the response ends.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Busboy, type BusboyFileStream } from '@fastify/busboy';
import { SluiceError, toSluiceError } from '../../lib/errors.js';
import type { Actor, RequestMeta } from '../services/actor.js';
import type { StagedArtifact } from '../services/artifact-store.js';
import type { ControlPlaneServices } from '../services/control-plane.js';
import { allows, type Permission } from '../services/permissions.js';
import { CSRF_HEADERS } from '../plugins/use-csrf-prevention.js';
import { authenticateBearer } from './authenticate.js';

/** The mutations that take files: createModelVersion, uploadDataset, finishTrainingAttempt. */
const UPLOAD_PERMISSIONS: readonly Permission[] = ['registry:write', 'dataset:write', 'training:run'];
const MAX_FILES = 8;
const OBJECT_PATH = /^[A-Za-z0-9_]{1,64}(\.[A-Za-z0-9_]{1,64}){0,8}$/;

export interface StagedUploadRequest {
  actor: Actor;
  params: { query?: string; operationName?: string; variables?: Record<string, unknown>; extensions?: Record<string, unknown> };
}

export function isMultipart(req: IncomingMessage): boolean {
  return req.method === 'POST' && (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase() === 'multipart/form-data';
}

/**
 * Check the caller and stream the parts into the store; resolves with the request for yoga, or
 * undefined when it has answered the request itself (refused).
 */
export async function readGraphQLUpload(
  services: ControlPlaneServices,
  req: IncomingMessage,
  res: ServerResponse,
  meta: RequestMeta,
  limits: { maxBodyBytes: number },
): Promise<StagedUploadRequest | undefined> {
  const staged: StagedArtifact[] = [];
  res.once('close', () => staged.forEach((s) => s.discard()));
  let actor: Actor;
  try {
    actor = await admit(services, req, meta, limits.maxBodyBytes);
  } catch (err) {
    refuse(req, res, toSluiceError(err), true);
    return undefined;
  }
  try {
    return { actor, params: await parse(services, req, staged, limits.maxBodyBytes) };
  } catch (err) {
    refuse(req, res, toSluiceError(err, 'SLUICE_E_HTTP_BAD_REQUEST', true), !req.complete);
    return undefined;
  }
}

async function admit(services: ControlPlaneServices, req: IncomingMessage, meta: RequestMeta, maxBodyBytes: number): Promise<Actor> {
  if (!CSRF_HEADERS.some((h) => (req.headers[h] ?? '') !== '')) {
    throw new SluiceError('SLUICE_E_HTTP_CSRF', `a multipart upload could have been sent by a cross-site page: send one of the headers ${CSRF_HEADERS.join(', ')}`);
  }
  const actor = await authenticateBearer(services, req.headers.authorization);
  if (!actor) throw new SluiceError('SLUICE_E_AUTH_MISSING', 'send Authorization: Bearer <token>');
  if (!UPLOAD_PERMISSIONS.some((p) => allows(actor.role, p))) {
    await services.audit.denied({ actor, request: meta }, 'upload', 'graphql/multipart', `needs one of ${UPLOAD_PERMISSIONS.join(', ')}`);
  }
  const limit = services.artifacts.maxBytes + maxBodyBytes;
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) {
    throw new SluiceError('SLUICE_E_HTTP_BODY_TOO_LARGE', `upload declares ${declared} bytes; the limit is ${limit}`, { details: { limit } });
  }
  return actor;
}

function parse(services: ControlPlaneServices, req: IncomingMessage, staged: StagedArtifact[], maxBodyBytes: number): Promise<StagedUploadRequest['params']> {
  return new Promise((resolve, reject) => {
    let operations: StagedUploadRequest['params'] | undefined;
    let map: Record<string, string[]> | undefined;
    const pending: Promise<void>[] = [];
    // File parts still streaming: on a failure (the client gone mid-body) they are ended with the
    // error, so their staging stops and removes its temporary file instead of waiting forever.
    const streaming = new Set<BusboyFileStream>();
    let failed = false;
    const fail = (err: unknown) => {
      if (failed) return;
      failed = true;
      req.unpipe(busboy);
      for (const file of streaming) file.destroy(err as Error);
      reject(err);
    };
    let busboy: InstanceType<typeof Busboy>;
    try {
      busboy = new Busboy({
        headers: req.headers as { 'content-type': string },
        limits: { fields: 2, fieldSize: maxBodyBytes, files: MAX_FILES, fileSize: services.artifacts.maxBytes + 1, parts: MAX_FILES + 2 },
      });
    } catch (err) {
      fail(new SluiceError('SLUICE_E_HTTP_BAD_REQUEST', `multipart body cannot be read: ${(err as Error).message}`, { cause: err }));
      return;
    }
    busboy.on('field', (name: string, value: string, _nameTruncated: boolean, valueTruncated: boolean) => {
      if (valueTruncated) return fail(new SluiceError('SLUICE_E_HTTP_BODY_TOO_LARGE', `multipart field ${name} is larger than ${maxBodyBytes} bytes`, { details: { field: name, limit: maxBodyBytes } }));
      try {
        if (name === 'operations' && operations === undefined) operations = jsonField(name, value) as StagedUploadRequest['params'];
        else if (name === 'map' && operations !== undefined && map === undefined) map = mapField(value);
        else throw badSpec(`unexpected field ${name}: send "operations", then "map", then the files`);
      } catch (err) {
        fail(err);
      }
    });
    busboy.on('file', (name: string, stream: BusboyFileStream) => {
      if (failed || map === undefined || !(name in map)) {
        stream.resume();
        return fail(badSpec(map === undefined ? 'files must come after the "operations" and "map" fields' : `file ${name} is not named in "map"`));
      }
      const paths = map[name]!;
      streaming.add(stream);
      stream.once('close', () => streaming.delete(stream));
      pending.push(
        services.artifacts.stage(stream).then((file) => {
          staged.push(file);
          for (const path of paths) place(operations!, path, file);
        }, fail),
      );
    });
    busboy.on('partsLimit', () => fail(badSpec(`more than ${MAX_FILES} files`)));
    busboy.on('filesLimit', () => fail(badSpec(`more than ${MAX_FILES} files`)));
    busboy.on('fieldsLimit', () => fail(badSpec('only "operations" and "map" may be plain fields')));
    busboy.on('error', (err: Error) => fail(new SluiceError('SLUICE_E_HTTP_BAD_REQUEST', `multipart body cannot be read: ${err.message}`, { cause: err })));
    busboy.on('finish', () => {
      void Promise.all(pending).then(() => {
        if (failed) return;
        if (operations === undefined || map === undefined) return fail(badSpec('the "operations" and "map" fields are required'));
        const missing = Object.keys(map).filter((name) => !seen(map!, name, operations!));
        if (missing.length > 0) return fail(badSpec(`file ${missing[0]} named in "map" was not sent`));
        resolve(operations);
      });
    });
    req.on('aborted', () => fail(new SluiceError('SLUICE_E_HTTP_BAD_REQUEST', 'the client closed the connection during the upload')));
    req.pipe(busboy);
  });
}

function badSpec(message: string): SluiceError {
  return new SluiceError('SLUICE_E_HTTP_BAD_REQUEST', `multipart GraphQL request: ${message}`);
}

function jsonField(name: string, value: string): unknown {
  try {
    const parsed = JSON.parse(value) as unknown;
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
    return parsed;
  } catch (err) {
    throw new SluiceError('SLUICE_E_HTTP_BAD_JSON', `multipart field ${name} is not a JSON object`, { cause: err, details: { field: name } });
  }
}

function mapField(value: string): Record<string, string[]> {
  const map = jsonField('map', value) as Record<string, unknown>;
  for (const [name, paths] of Object.entries(map)) {
    if (!Array.isArray(paths) || paths.length === 0 || !paths.every((p) => typeof p === 'string' && OBJECT_PATH.test(p) && p.startsWith('variables.'))) {
      throw badSpec(`map entry ${name} must be a list of paths under "variables."`);
    }
  }
  return map as Record<string, string[]>;
}

/** Put `file` at `path` ("variables.input.artifact") in the operations object. */
function place(operations: StagedUploadRequest['params'], path: string, file: StagedArtifact): void {
  const keys = path.split('.');
  let at = operations as Record<string, unknown>;
  for (const key of keys.slice(0, -1)) {
    const next = at[key];
    if (next === null || typeof next !== 'object' || key === '__proto__') throw badSpec(`map path ${path} does not exist in "operations"`);
    at = next as Record<string, unknown>;
  }
  at[keys[keys.length - 1]!] = file;
}

function seen(map: Record<string, string[]>, name: string, operations: StagedUploadRequest['params']): boolean {
  return map[name]!.every((path) => {
    let at: unknown = operations;
    for (const key of path.split('.')) at = (at as Record<string, unknown> | null)?.[key];
    return at !== null && typeof at === 'object' && typeof (at as { arrayBuffer?: unknown }).arrayBuffer === 'function';
  });
}

/**
 * Answer a refused upload in the GraphQL error shape yoga uses. `close`: the body was not read, so
 * after the answer it is dropped for a bounded while (lingeringClose), then the connection is cut.
 */
function refuse(req: IncomingMessage, res: ServerResponse, err: SluiceError, close: boolean): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (err.status === 401) headers['www-authenticate'] = 'Bearer';
  const body = JSON.stringify({ errors: [{ message: err.message, extensions: { code: err.code, ...(err.details ? { details: err.details } : {}) } }] });
  headers['content-length'] = String(Buffer.byteLength(body));
  res.writeHead(err.status, headers).end(body);
  if (close) {
    req.unpipe();
    res.once('finish', () => lingeringClose(req));
  }
}

/** How much of a refused body is read and dropped before the connection is cut (nginx's lingering close, in small). */
const LINGER_MS = 2000;
const LINGER_BYTES = 1024 * 1024;

/**
 * After a refusal the rest of the body is read and dropped (Node's server does that to keep the
 * connection alive), but only up to LINGER_BYTES or LINGER_MS: past either the socket is cut, so a
 * refused 1 GiB upload costs at most that. Cutting at once instead (`Connection: close`) closed
 * sockets with unread body bytes in the kernel's buffer, which sends an RST: a client still
 * writing its body then saw EPIPE instead of the 401/403 (65 of 200 refused 2 KB uploads).
 */
function lingeringClose(req: IncomingMessage): void {
  const socket = req.socket;
  let dropped = 0;
  const cut = (): void => {
    clearTimeout(timer);
    socket.destroy();
  };
  const timer = setTimeout(cut, LINGER_MS);
  timer.unref();
  req.on('data', (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > LINGER_BYTES) cut();
  });
  req.once('end', () => clearTimeout(timer));
  req.resume();
}