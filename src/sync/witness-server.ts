/**
 * A witness as C2SP tlog-witness specifies it (https://c2sp.org/tlog-witness):
 * `POST /add-checkpoint` with an old size line, up to 63 consistency proof
 * lines, an empty line and a checkpoint; the answer is this witness's
 * cosignature line (C2SP tlog-cosignature: Ed25519 `cosignature/v1` or ML-DSA-44
 * `subtree/v1`, start 0 and end the checkpoint's size, as its key is) once the
 * checkpoint is checked against the latest one it cosigned for that origin and
 * that new latest is durable. Check and persist run one request at a time, so
 * two requests cannot roll the recorded size back (the spec's race).
 *
 * Status codes, as the spec has them: 404 unknown origin, 403 no valid
 * signature by a trusted key, 400 malformed or old size above the checkpoint's,
 * 409 old size is not the recorded one (body: the recorded size, `text/x.tlog.size`),
 * 422 a size-0 checkpoint with another root, a proof given from size 0, a
 * proof that does not verify, or the same size with another root.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, Server } from 'node:http';
import { dirname } from 'node:path';
import { equalBytes, fromBase64, toBase64, toHex, utf8 } from '../crypto/bytes.js';
import { sha256Node } from '../crypto/node-crypto.js';
import { nodeTreeHasher } from '../crypto/node-tree-hasher.js';
import { type NoteVerifier, parseNote, parseVerifierKey } from '../crypto/note.js';
import { parseCheckpoint } from '../encoding/checkpoint.js';
import { forkEvidenceToJSON } from '../encoding/evidence.js';
import { ErrorCode, fail, isDirchainError } from '../errors.js';
import { checkConsistency } from '../merkle/check.js';
import { createLimitedServer, listenOn } from '../node/http.js';
import { verifyCheckpoint } from '../verify.js';
import { keepEvidence } from './evidence-file.js';
import { cosignWith, loadWitnessSigner, type WitnessSigner } from './witness.js';

export interface WitnessOptions {
  /** The witness's signer key (`generateWitnessKey`'s `signerKey`), Ed25519 or ML-DSA-44. */
  readonly signerKey: string;
  /** The logs it witnesses: each origin's verifier keys (C2SP note verifier key text). */
  readonly logs: ReadonlyArray<{ readonly origin: string; readonly verifierKeys: readonly string[] }>;
  /** A JSON file holding the latest cosigned checkpoint per origin (made if missing). */
  readonly statePath: string;
  readonly host?: string;
  readonly port?: number;
  /** POSIX seconds for the cosignature (tests); default now. */
  readonly clock?: () => number;
  /**
   * Where refused checkpoints that the log validly signed are kept (default:
   * the folder of `statePath`): fork evidence for another root at the size
   * already cosigned, a record of the failing proof otherwise.
   */
  readonly evidenceDir?: string;
}

export interface RunningWitness {
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

interface Recorded {
  size: number;
  root: string;
  /** The signed checkpoint cosigned last, as the log sent it (absent in a state file of an older witness). */
  note?: string;
}

const MAX_PROOF_LINES = 63;
const MAX_BODY = 64 * 1024;

class Refusal {
  constructor(
    readonly status: number,
    readonly message: string,
    readonly body?: string,
    readonly type?: string,
  ) {}
}

/** Starts a witness HTTP server (C2SP tlog-witness add-checkpoint). */
export async function startWitness(options: WitnessOptions): Promise<RunningWitness> {
  // Parsed and checked once: a bad key file stops the start, not the first request.
  const signer = loadWitnessSigner(options.signerKey);
  const logs = new Map<string, NoteVerifier[]>();
  for (const l of options.logs)
    logs.set(
      l.origin,
      l.verifierKeys.map((k) => parseVerifierKey(sha256Node, k)),
    );
  const state: Record<string, Recorded> = existsSync(options.statePath)
    ? (JSON.parse(readFileSync(options.statePath, 'utf8')) as Record<string, Recorded>)
    : {};
  // One request at a time from check to persist: the spec's rollback race cannot happen.
  let turn: Promise<unknown> = Promise.resolve();
  const server = createLimitedServer(
    async (req, res) => {
      const answer = (status: number, body: string, type = 'text/plain; charset=utf-8') => {
        res.statusCode = status;
        res.setHeader('Content-Type', type);
        res.end(body);
      };
      if ((req.url ?? '').split('?')[0] !== '/add-checkpoint') return answer(404, 'not found\n');
      if (req.method !== 'POST') {
        res.setHeader('Allow', 'POST');
        return answer(405, 'POST only\n');
      }
      let body: string;
      try {
        body = await readBody(req);
      } catch (e) {
        return answer(e instanceof Refusal ? e.status : 400, `${(e as Error).message ?? e}\n`);
      }
      const result = turn.then(() => addCheckpoint(body, logs, state, signer, options));
      turn = result.catch(() => {});
      try {
        answer(200, await result);
      } catch (e) {
        if (e instanceof Refusal) answer(e.status, e.body ?? `${e.message}\n`, e.type);
        else throw e;
      }
    },
    { limits: { headersTimeout: 10_000, requestTimeout: 10_000 } },
  );
  const url = await listenOn(server, options.host ?? '127.0.0.1', options.port ?? 0);
  return {
    url,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    length += c.length;
    if (length > MAX_BODY) throw new Refusal(400, `the body is over ${MAX_BODY} bytes`);
    chunks.push(c);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The checks of add-checkpoint, in the spec's order; the new latest is durable before the cosignature returns. */
async function addCheckpoint(
  body: string,
  logs: Map<string, NoteVerifier[]>,
  state: Record<string, Recorded>,
  signer: WitnessSigner,
  options: WitnessOptions,
): Promise<string> {
  const blank = body.indexOf('\n\n');
  if (blank < 0)
    throw new Refusal(400, 'the body needs an old size line, proof lines, an empty line and a checkpoint');
  const head = body.slice(0, blank).split('\n');
  const note = body.slice(blank + 2);
  const oldLine = /^old (0|[1-9][0-9]{0,15})$/.exec(head[0] ?? '');
  if (oldLine === null)
    throw new Refusal(400, 'the first line must be "old <size>" (decimal, no leading zeros)');
  const old = Number(oldLine[1]);
  const proofLines = head.slice(1);
  if (proofLines.length > MAX_PROOF_LINES) throw new Refusal(400, `more than ${MAX_PROOF_LINES} proof lines`);
  const proof = proofLines.map((l) => {
    let h: Uint8Array | undefined;
    try {
      h = fromBase64(l);
    } catch {
      h = undefined;
    }
    if (h === undefined || h.length !== 32)
      throw new Refusal(400, 'a proof line is not a base64 SHA-256 hash');
    return h;
  });
  // The origin first (unknown: 404), then the signature by a key trusted for it (none valid: 403).
  let origin: string;
  try {
    origin = parseCheckpoint(parseNote(note).text).origin;
  } catch (e) {
    throw new Refusal(400, `the checkpoint is malformed: ${isDirchainError(e) ? e.message : String(e)}`);
  }
  const keys = logs.get(origin);
  if (keys === undefined) throw new Refusal(404, `this witness does not witness ${origin}`);
  let checkpoint: ReturnType<typeof parseCheckpoint>;
  try {
    // Signed by a key trusted for this origin and named after it, as cosigning asks.
    checkpoint = verifyCheckpoint(note, keys);
  } catch {
    throw new Refusal(403, `no valid signature by a key trusted for ${origin}`);
  }
  if (old > checkpoint.size)
    throw new Refusal(400, `old size ${old} is above the checkpoint's ${checkpoint.size}`);
  const recorded = state[origin];
  const latest = recorded?.size ?? 0;
  if (old !== latest)
    throw new Refusal(409, `the latest cosigned size is ${latest}`, `${latest}\n`, 'text/x.tlog.size');
  const hasher = nodeTreeHasher;
  if (checkpoint.size === 0 && !equalBytes(checkpoint.root, hasher.emptyRoot))
    throw new Refusal(422, 'a checkpoint of size 0 must have the root of the empty tree');
  if (old === 0) {
    if (proof.length > 0) throw new Refusal(422, 'from size 0 the consistency proof must be empty');
  } else {
    const oldRoot = fromBase64(recorded!.root);
    if (old === checkpoint.size) {
      if (!equalBytes(oldRoot, checkpoint.root)) {
        // Two checkpoints the log signed, one size, two roots: proof of a fork anyone can check.
        if (recorded!.note !== undefined)
          keepOnce(
            options,
            'fork',
            note,
            forkEvidenceToJSON({
              origin,
              checkpoint1: recorded!.note,
              checkpoint2: note,
              seenAt: new Date().toISOString(),
            }),
          );
        throw new Refusal(422, `another root for size ${old}, the size already cosigned: the log forked`);
      }
      if (proof.length > 0)
        throw new Refusal(422, `a consistency proof from size ${old} to itself must be empty`);
    } else if (!checkConsistency(hasher, old, checkpoint.size, oldRoot, checkpoint.root, proof)) {
      // Not proof of a fork on its own (whoever asked chose the proof), but worth keeping: both signed
      // checkpoints and the proof, for whoever holds the log's tiles to settle.
      keepOnce(options, 'refused', note, {
        type: REFUSED_TYPE,
        origin,
        cosigned: recorded!.note ?? null,
        cosignedSize: old,
        cosignedRoot: recorded!.root,
        refused: note,
        proof: proof.map(toBase64),
        reason: 'consistency proof does not verify',
        seenAt: new Date().toISOString(),
      });
      throw new Refusal(422, `the consistency proof from ${old} to ${checkpoint.size} does not verify`);
    }
  }
  state[origin] = { size: checkpoint.size, root: toBase64(checkpoint.root), note };
  persist(options.statePath, state);
  // The log's signature was checked above; the checkpoint is the one it signed.
  const cosigned = cosignWith(note, checkpoint, signer, options.clock?.());
  // This witness's line is the last one cosignWith adds.
  const lines = cosigned.trimEnd().split('\n');
  return `${lines.at(-1)}\n`;
}

/** A witness's record of a validly signed checkpoint it refused for a failing consistency proof. */
export const REFUSED_TYPE = 'dirchain-witness-refused/v1';

/**
 * Keeps what a refused checkpoint shows, once per checkpoint: the file is named by its size and
 * the hash of its signed text, so one sent again (anyone may send add-checkpoint) adds no file.
 * The answer names no file: paths on this machine are not the sender's business.
 */
function keepOnce(options: WitnessOptions, kind: string, note: string, json: object): void {
  const { text } = parseNote(note);
  const name = `${parseCheckpoint(text).size}-${toHex(sha256Node(utf8(text))).slice(0, 16)}`;
  try {
    keepEvidence(options.evidenceDir ?? dirname(options.statePath), kind, name, json);
  } catch (e) {
    // Kept already (EEXIST), or the disk refused: the checkpoint is refused all the same (422), and said so.
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST')
      process.emitWarning(`the witness could not keep ${kind} evidence: ${(e as Error).message}`);
  }
}

/** Written to a new file, synced, renamed over the old one, the folder synced: a crash leaves one or the other. */
function persist(path: string, state: Record<string, Recorded>): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, utf8(`${JSON.stringify(state)}\n`), { mode: 0o600 });
  const fd = openSync(tmp, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  const dir = openSync(dirname(path), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

/** For callers that build a request body (a log asking for a cosignature). */
export function addCheckpointBody(old: number, proof: readonly Uint8Array[], note: string): string {
  if (!Number.isSafeInteger(old) || old < 0)
    fail(ErrorCode.INVALID_ARGUMENT, `old size must be ≥ 0, got ${old}`);
  return `old ${old}\n${proof.map((h) => `${toBase64(h)}\n`).join('')}\n${note}`;
}
