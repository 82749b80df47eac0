/**
 * Where `publish` (publish.ts) puts objects: a bucket of any S3-compatible
 * store, through @aws-sdk/client-s3, or a folder that any static file server
 * serves. Each object is written whole, with the Content-Type and
 * Cache-Control it is given (a folder cannot keep them: its server decides).
 */
import { existsSync, statSync } from 'node:fs';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { DirchainError, ErrorCode, fail, isDirchainError } from '../errors.js';
import { readCapped } from '../node/http.js';

export interface TargetOptions {
  /** An S3-compatible endpoint (`http://127.0.0.1:9000`); addressed path-style. Default: AWS S3. */
  readonly endpoint?: string;
  /** Default: AWS_REGION, else us-east-1. */
  readonly region?: string;
  /** Default: the AWS SDK's chain (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, ...). */
  readonly credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Per request to the store (default 30 s). */
  readonly timeoutMs?: number;
}

/** A checkpoint is a few hundred bytes; anything this large at the target is not one. */
const MAX_SMALL_OBJECT = 64 * 1024;

/** Opens the target `parseTarget` read. */
export function openTarget(spec: TargetSpec, options: TargetOptions): Promise<Target> {
  return spec.kind === 's3' ? s3Target(spec, options) : Promise.resolve(folderTarget(spec.path));
}

/** Where objects go. `write` puts one whole object (a reader sees it all or not at all). */
export interface Target {
  readonly name: string;
  readonly url: string | undefined;
  /** A small object (the checkpoint), or undefined if there is none; over MAX_SMALL_OBJECT is E_CHECKPOINT_INVALID. */
  read(path: string): Promise<Uint8Array | undefined>;
  write(path: string, body: Uint8Array, type: string, cache: string): Promise<void>;
  close(): void;
}

export type TargetSpec = { kind: 's3'; bucket: string; prefix: string } | { kind: 'folder'; path: string };

/** S3 bucket names (the rules all S3-compatible stores accept); a prefix of plain path segments. */
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const PREFIX_SEGMENT = /^[A-Za-z0-9._~-]+$/;

/** `s3://bucket/prefix` or a folder; anything else (another scheme, a bad bucket or prefix) is E_INVALID_ARGUMENT. */
export function parseTarget(target: string, options: TargetOptions): TargetSpec {
  if (typeof target !== 'string' || target === '')
    fail(ErrorCode.INVALID_ARGUMENT, 'publish needs a target: s3://bucket/prefix or a folder');
  if (options.endpoint !== undefined && !/^https?:\/\/[^/?#]+\/?$/i.test(options.endpoint))
    fail(ErrorCode.INVALID_ARGUMENT, `endpoint: expected http(s)://host[:port], got ${options.endpoint}`);
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(target)?.[1];
  if (scheme === undefined) {
    if (options.endpoint !== undefined)
      fail(ErrorCode.INVALID_ARGUMENT, `an endpoint is for an s3:// target, not the folder ${target}`);
    return { kind: 'folder', path: target };
  }
  if (scheme.toLowerCase() !== 's3')
    fail(ErrorCode.INVALID_ARGUMENT, `cannot publish to ${scheme}://: give s3://bucket/prefix or a folder`, {
      hint: 'an S3-compatible store is s3://bucket/prefix with its endpoint; its HTTP address is for followers',
    });
  const rest = target.slice('s3://'.length);
  const slash = rest.indexOf('/');
  const bucket = slash < 0 ? rest : rest.slice(0, slash);
  if (!BUCKET.test(bucket) || bucket.includes('..'))
    fail(ErrorCode.INVALID_ARGUMENT, `${target}: "${bucket}" is not a bucket name (3-63 of a-z 0-9 . -)`);
  const segments = slash < 0 ? [] : rest.slice(slash + 1).split('/');
  if (segments.at(-1) === '') segments.pop();
  for (const s of segments) {
    if (!PREFIX_SEGMENT.test(s) || s === '.' || s === '..')
      fail(
        ErrorCode.INVALID_ARGUMENT,
        `${target}: the prefix may hold only segments of A-Z a-z 0-9 . _ ~ -`,
        {
          hint: 'followers join the paths to the prefix as a URL: no empty, "." or ".." segments',
        },
      );
  }
  return { kind: 's3', bucket, prefix: segments.map((s) => `${s}/`).join('') };
}

/** An S3-compatible bucket through @aws-sdk/client-s3 (loaded only when publishing there). */
async function s3Target(spec: { bucket: string; prefix: string }, options: TargetOptions): Promise<Target> {
  const { S3Client: Client, GetObjectCommand, PutObjectCommand } = await import('@aws-sdk/client-s3');
  const region = options.region ?? process.env.AWS_REGION ?? 'us-east-1';
  const endpoint = options.endpoint?.replace(/\/+$/, '');
  const timeout = options.timeoutMs ?? 30_000;
  const client: S3Client = new Client({
    region,
    ...(endpoint === undefined ? {} : { endpoint, forcePathStyle: true }),
    ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
    // The SDK's default CRC32 checksums (flexible checksums) are refused by many
    // S3-compatible stores; Content-MD5 and SigV4 still cover what needs them.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: { connectionTimeout: timeout, requestTimeout: timeout },
  });
  const store = endpoint ?? `AWS S3 (${region})`;
  const { bucket, prefix } = spec;
  return {
    name: `s3://${bucket}/${prefix}`,
    url:
      endpoint === undefined
        ? `https://${bucket}.s3.${region}.amazonaws.com/${prefix}`
        : `${endpoint}/${bucket}/${prefix}`,
    read: async (path) => {
      try {
        const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: prefix + path }));
        const tooLarge = (): never =>
          fail(
            ErrorCode.CHECKPOINT_INVALID,
            `s3://${bucket}/${prefix}${path} is too large to be a checkpoint`,
          );
        if ((r.ContentLength ?? 0) > MAX_SMALL_OBJECT) {
          await r.Body?.transformToWebStream().cancel();
          tooLarge();
        }
        if (r.Body === undefined) return new Uint8Array();
        // Capped as it is read too: a store may answer without a Content-Length.
        return new Uint8Array(
          await readCapped(new Response(r.Body.transformToWebStream()), MAX_SMALL_OBJECT, tooLarge),
        );
      } catch (e) {
        if (isDirchainError(e)) throw e;
        if ((e as { name?: string }).name === 'NoSuchKey') return undefined;
        throw storeError(e, `reading s3://${bucket}/${prefix}${path}`, store);
      }
    },
    write: async (path, body, type, cache) => {
      try {
        await client.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: prefix + path,
            Body: body,
            ContentLength: body.length,
            ContentType: type,
            CacheControl: cache,
          }),
        );
      } catch (e) {
        throw storeError(e, `uploading s3://${bucket}/${prefix}${path}`, store);
      }
    },
    close: () => client.destroy(),
  };
}

const CREDENTIAL_ERRORS = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'AccessDenied',
  'ExpiredToken',
  'InvalidToken',
  'CredentialsProviderError',
]);
const NETWORK_ERRORS = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET', 'ETIMEDOUT']);

/** E_REMOTE naming the store, the S3 error code (or the network one) and what to do. */
function storeError(e: unknown, action: string, store: string): DirchainError {
  const err = e as {
    name?: string;
    code?: unknown;
    message?: string;
    $metadata?: { httpStatusCode?: number };
  };
  const code = typeof err.code === 'string' ? err.code : (err.name ?? 'Error');
  const status = err.$metadata?.httpStatusCode;
  const hint = CREDENTIAL_ERRORS.has(code)
    ? 'check the credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE): they must read and write objects under the prefix; without list rights, S3 answers a missing object with AccessDenied'
    : code === 'NoSuchBucket'
      ? 'create the bucket first (publishing never creates one)'
      : NETWORK_ERRORS.has(code) || code === 'TimeoutError' || code === 'RequestTimeout'
        ? `is the store running and reachable at ${store}? check the endpoint address`
        : 'the store refused the request: check the bucket, its policy and the endpoint';
  return new DirchainError(
    ErrorCode.REMOTE,
    `${action} at ${store} failed: ${code}${status === undefined ? '' : ` (HTTP ${status})`}: ${err.message ?? String(e)}`,
    { hint, cause: e },
  );
}

/** A folder any static file server can serve; each file is written whole (a temporary file, synced, renamed). */
function folderTarget(path: string): Target {
  if (existsSync(join(path, 'CURRENT')) || existsSync(join(path, 'ledger', 'CURRENT')))
    fail(ErrorCode.INVALID_ARGUMENT, `${path} holds a ledger: publish to a folder of its own`);
  if (existsSync(path) && !statSync(path).isDirectory())
    fail(ErrorCode.INVALID_ARGUMENT, `${path} is not a folder`);
  let temp = 0;
  const failed = (e: unknown, action: string): never =>
    fail(ErrorCode.STORAGE, `${action} failed: ${(e as Error).message}`, {
      hint: 'check the folder exists, may be written and has room',
      cause: e,
    });
  return {
    name: path,
    url: undefined,
    read: async (p) => {
      try {
        const bytes = await readFile(join(path, p));
        if (bytes.length > MAX_SMALL_OBJECT)
          fail(ErrorCode.CHECKPOINT_INVALID, `${join(path, p)} is too large to be a checkpoint`);
        return bytes;
      } catch (e) {
        if (isDirchainError(e)) throw e;
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        return failed(e, `reading ${join(path, p)}`);
      }
    },
    write: async (p, body) => {
      const file = join(path, p);
      const tmp = `${file}.tmp-${process.pid}-${temp++}`;
      try {
        await mkdir(dirname(file), { recursive: true });
        const handle = await open(tmp, 'w');
        try {
          await handle.writeFile(body);
          await handle.sync();
        } finally {
          await handle.close();
        }
        await rename(tmp, file);
        // The rename durable before the next object (the checkpoint last): a power loss keeps that order.
        const folder = await open(dirname(file), 'r');
        try {
          await folder.sync();
        } finally {
          await folder.close();
        }
      } catch (e) {
        await rm(tmp, { force: true });
        failed(e, `writing ${file}`);
      }
    },
    close: () => {},
  };
}
