// The signature formats shared by the registry (which signs) and gateways (which verify).
//
// 1. An artifact signature: Ed25519 over a fixed, versioned message naming one file's SHA-256.
// 2. A version statement: an in-toto Statement (v1) whose subjects are the files a gateway needs to
//    serve one model version (model.onnx, config.json, the drift profile) by SHA-256, and whose
//    predicate names the registry key, the model and the version number. It is signed as a DSSE
//    envelope would sign it (Ed25519 over the pre-authentication encoding of payload type and
//    payload), so a gateway that trusts the key knows that these exact files ARE that version, not
//    just that each file was once registered. Later governance facts (approvals, gate reports) go
//    into the predicate, whose type carries the format's version.
import { createPublicKey, verify } from 'node:crypto';
import { SluiceError } from './errors.js';

/** The bytes that are signed for an artifact: versioned so the format can change without ambiguity. */
export function artifactSignedMessage(sha256: string): Buffer {
  return Buffer.from(`sluice-artifact-v1:sha256:${sha256}`);
}

/** For gateways: true when `signature` (base64) is the registry's signature of the artifact `sha256`. */
export function verifyArtifactSignature(publicKeyPem: string, sha256: string, signature: string): boolean {
  try {
    return verify(null, artifactSignedMessage(sha256), createPublicKey(publicKeyPem), Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

export const STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
export const VERSION_PREDICATE_TYPE = 'https://sluice.dev/model-version/v1';
export const STATEMENT_PAYLOAD_TYPE = 'application/vnd.in-toto+json';

/** The files of a version, as statement subjects name them. */
export const VERSION_FILES = ['model.onnx', 'config.json', 'profile.json'] as const;
export type VersionFileName = (typeof VERSION_FILES)[number];

export interface StatementSubject {
  name: VersionFileName;
  digest: { sha256: string };
}

export interface VersionStatement {
  _type: typeof STATEMENT_TYPE;
  subject: StatementSubject[];
  predicateType: typeof VERSION_PREDICATE_TYPE;
  predicate: {
    /** keyId of the registry key that signed the statement. */
    registryKey: string;
    model: string;
    version: number;
    createdAt: string;
  };
}

export interface VersionFacts {
  registryKey: string;
  model: string;
  version: number;
  createdAt: string;
  /** Digests of the files the version has (model.onnx always). */
  files: Partial<Record<VersionFileName, string>> & { 'model.onnx': string };
}

export function versionStatement(facts: VersionFacts): VersionStatement {
  return {
    _type: STATEMENT_TYPE,
    subject: VERSION_FILES.filter((name) => facts.files[name] !== undefined).map((name) => ({ name, digest: { sha256: facts.files[name]! } })),
    predicateType: VERSION_PREDICATE_TYPE,
    predicate: { registryKey: facts.registryKey, model: facts.model, version: facts.version, createdAt: facts.createdAt },
  };
}

/** DSSE's pre-authentication encoding: what is actually signed for a payload of `type`. */
export function preAuthEncoding(type: string, payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`DSSEv1 ${Buffer.byteLength(type)} ${type} ${payload.length} `), payload]);
}

/**
 * For gateways: the statement (base64 payload) after its signature (base64) verifies with the
 * registry key; throws SLUICE_E_ARTIFACT_SIGNATURE naming what failed otherwise.
 */
export function verifyVersionStatement(publicKeyPem: string, statementBase64: string, signature: string): VersionStatement {
  const payload = Buffer.from(statementBase64, 'base64');
  let ok = false;
  try {
    ok = verify(null, preAuthEncoding(STATEMENT_PAYLOAD_TYPE, payload), createPublicKey(publicKeyPem), Buffer.from(signature, 'base64'));
  } catch {
    ok = false;
  }
  if (!ok) throw new SluiceError('SLUICE_E_ARTIFACT_SIGNATURE', 'the registry signature of the version statement does not verify');
  let statement: VersionStatement;
  try {
    statement = JSON.parse(payload.toString('utf8')) as VersionStatement;
  } catch (err) {
    throw new SluiceError('SLUICE_E_ARTIFACT_SIGNATURE', 'the signed version statement is not JSON', { cause: err });
  }
  if (statement?._type !== STATEMENT_TYPE || statement.predicateType !== VERSION_PREDICATE_TYPE || !Array.isArray(statement.subject)) {
    throw new SluiceError('SLUICE_E_ARTIFACT_SIGNATURE', `the signed statement is not a ${VERSION_PREDICATE_TYPE} statement`);
  }
  return statement;
}

/** The digest a statement gives one of its files, or undefined when the version has no such file. */
export function subjectDigest(statement: VersionStatement, name: VersionFileName): string | undefined {
  return statement.subject.find((s) => s.name === name)?.digest?.sha256;
}
