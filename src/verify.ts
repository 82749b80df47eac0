/**
 * `dirchain/verify`: everything an auditor needs to check dirchain proofs
 * offline, trusting only published keys. Pure JavaScript (noble), no LevelDB,
 * no Node-only APIs: it runs in Node, Deno and browsers.
 *
 * @example
 *   import { verifyBundle } from 'dirchain/verify';
 *   const report = verifyBundle(bundleJson, ['dirchain.example.gov/city+c0b0ec62+AU9l...']);
 *   if (!report.ok) console.error(report.checks.filter((c) => c.status === 'fail'));
 */
import { checkArray, checkBytes, checkObject, checkString, equalBytes, show, toHex } from './crypto/bytes.js';
import {
  type Cosignature,
  checkCosignatures,
  checkWitnessVerifier,
  parseWitnessKey,
  type WitnessVerifier,
  witnessPolicy,
} from './crypto/cosignature.js';
import { checkLength, PUBLIC_KEY_LENGTH, verifyNoble } from './crypto/ed25519.js';
import { checkVerifier, type NoteVerifier, openNote, parseVerifierKey } from './crypto/note.js';
import { sha256Noble } from './crypto/sha256.js';
import { treeHasher } from './crypto/tree-hasher.js';
import { blockEntryLines, decodeBlockEntry, isBlockEntry } from './encoding/block-entry.js';
import {
  bundleKind,
  type ConsistencyBundleBytes,
  consistencyBundleFromJSON,
  type InclusionBundleBytes,
  inclusionBundleFromJSON,
  parseBundleObject,
} from './encoding/bundle.js';
import { type Checkpoint, parseCheckpoint } from './encoding/checkpoint.js';
import { BATCH_KIND, decodeEvent, isEventEntry, type LedgerEvent, parseBatchBody } from './encoding/event.js';
import {
  type ForkEvidence,
  forkEvidenceFromJSON,
  type ReplayEvidence,
  replayEvidenceFromJSON,
} from './encoding/evidence.js';
import { decodeRecord, type LedgerRecord, verifyRecordSignature } from './encoding/record.js';
import { DirchainError, ErrorCode, fail, isDirchainError } from './errors.js';
import { type ConsistencyClaim, checkInclusion, type InclusionClaim, proofChecks } from './merkle/check.js';
import { attributeHasher } from './privacy/commitment.js';
import {
  checkDisclosureBundle,
  type DisclosureBundle,
  type DisclosureResult,
  disclosureFromJSON,
} from './privacy/disclosure.js';
import { mapHasher } from './state/map.js';
import {
  checkStatusBundle,
  type StatusBundle,
  type StatusResult,
  statusBundleFromJSON,
} from './state/status-proof.js';

const hasher = treeHasher(sha256Noble);
const checks = proofChecks(hasher);

/** RFC 9162 leaf hash of a log entry: SHA-256(0x00 || entry). */
export const leafHash: (entry: Uint8Array) => Uint8Array = checks.leafHash;

/**
 * True when `proof` shows the entry (or its leaf hash) at `index` in the tree of `size` with `root`.
 * A claim whose fields have the wrong types is false; a claim that is not an object is E_INVALID_ARGUMENT.
 */
export const verifyInclusion: (p: InclusionClaim) => boolean = checks.verifyInclusion;

/**
 * True when `proof` shows tree (size1, root1) is a prefix of tree (size2, root2).
 * A claim whose fields have the wrong types is false; a claim that is not an object is E_INVALID_ARGUMENT.
 */
export const verifyConsistency: (p: ConsistencyClaim) => boolean = checks.verifyConsistency;

/** Keys given as text are parsed with `parse`; keys given as objects must have a verifier's shape. */
function parseKeyList(
  keys: ReadonlyArray<string | NoteVerifier>,
  what: string,
  parse: (text: string) => NoteVerifier,
): NoteVerifier[] {
  checkArray(keys, what);
  return Array.from(keys, (k, i) => {
    if (typeof k === 'string') return parse(k);
    checkVerifier(k, `${what}[${i}]`);
    return k;
  });
}

/** Parses verifier keys given as C2SP note key text. */
export function parseKeys(keys: ReadonlyArray<string | NoteVerifier>): NoteVerifier[] {
  return parseKeyList(keys, 'keys', (k) => parseVerifierKey(sha256Noble, k));
}

/**
 * Parses witness verifier keys (C2SP tlog-cosignature): Ed25519 cosignature/v1
 * (key type 0x04) and ML-DSA-44 (key type 0x06). A key given as an object may say
 * its `type`; without one, its length does (32 bytes Ed25519, 1312 ML-DSA-44).
 */
export function parseWitnessKeys(keys: ReadonlyArray<string | NoteVerifier>): WitnessVerifier[] {
  checkArray(keys, 'witness keys');
  return Array.from(keys, (k, i) =>
    typeof k === 'string' ? parseWitnessKey(sha256Noble, k) : checkWitnessVerifier(k, `witness keys[${i}]`),
  );
}

/** Throws E_INVALID_ARGUMENT unless `policy` is an object with, if given, a key list and a whole quorum. */
function checkWitnessPolicy(policy: WitnessPolicy, what: string): void {
  checkObject(policy, what);
  if (policy.witnesses !== undefined) checkArray(policy.witnesses, `${what} witnesses`);
  const q = policy.quorum;
  if (q !== undefined && !(Number.isSafeInteger(q) && (q as number) >= 0))
    fail(ErrorCode.INVALID_ARGUMENT, `witness quorum must be a whole number ≥ 0, got ${show(q)}`);
}

/**
 * Which witnesses an auditor trusts, and how many of them (k of n) must have
 * cosigned a checkpoint before it counts. Quorum defaults to all the witnesses given.
 */
export interface WitnessPolicy {
  readonly witnesses?: ReadonlyArray<string | NoteVerifier>;
  readonly quorum?: number;
}

/**
 * Checks the witness cosignatures of a checkpoint note against `policy`: at
 * least `quorum` distinct witnesses must have cosigned this very checkpoint.
 * Unknown signature lines are ignored; a line by a listed witness that does not
 * verify is E_BAD_SIGNATURE; too few is E_QUORUM. Does not check the log's signature.
 */
export function verifyCosignatures(note: string, policy: WitnessPolicy): Cosignature[] {
  checkString(note, 'note');
  checkWitnessPolicy(policy, 'witness policy');
  if (policy.witnesses === undefined && (policy.quorum ?? 0) > 0)
    fail(ErrorCode.INVALID_ARGUMENT, `witness quorum ${policy.quorum} needs witness keys`);
  return checkCosignatures(
    note,
    parseWitnessKeys(policy.witnesses ?? []),
    policy.quorum,
    verifyNoble,
    parseCheckpoint,
  );
}

/**
 * Opens a signed checkpoint note with the trusted keys and parses it; with
 * `witnesses`, also requires `quorum` witness cosignatures (see `verifyCosignatures`).
 * Throws E_BAD_SIGNATURE (no trusted or a bad signature), E_CHECKPOINT_INVALID or E_QUORUM.
 *
 * @example
 *   const cp = verifyCheckpoint(note, [logKey], { witnesses: [w1, w2, w3], quorum: 2 });
 */
export function verifyCheckpoint(
  note: string,
  keys: ReadonlyArray<string | NoteVerifier>,
  expect: { origin?: string } & WitnessPolicy = {},
): Checkpoint & { signers: string[]; cosigners: Cosignature[] } {
  checkString(note, 'checkpoint note');
  const verifiers = parseKeys(keys);
  checkWitnessPolicy(expect, 'checkpoint expectations');
  if (expect.origin !== undefined) checkString(expect.origin, 'expected origin');
  const opened = openNote(note, verifiers, verifyNoble);
  const c = parseCheckpoint(opened.text);
  // A log's checkpoint key is named after its origin: a key trusted for another log proves nothing here.
  if (!opened.verified.some((s) => s.name === c.origin)) {
    fail(
      ErrorCode.CHECKPOINT_INVALID,
      `checkpoint for ${c.origin} is not signed by a trusted key named ${c.origin}`,
      {
        hint: `signed by: ${opened.verified.map((s) => s.name).join(', ')}`,
      },
    );
  }
  if (expect.origin !== undefined && c.origin !== expect.origin) {
    fail(ErrorCode.CHECKPOINT_INVALID, `checkpoint is for ${c.origin}, expected ${expect.origin}`);
  }
  const cosigners =
    expect.witnesses === undefined && expect.quorum === undefined ? [] : verifyCosignatures(note, expect);
  return {
    ...c,
    signers: opened.verified.map((s) => `${s.name}+${s.keyHash.toString(16).padStart(8, '0')}`),
    cosigners,
  };
}

/**
 * Decodes a record and checks its author signature under `publicKey` (32 bytes).
 * Throws E_BAD_SIGNATURE, or decodeRecord's refusals for a malformed entry.
 */
export function verifyRecord(entry: Uint8Array, publicKey: Uint8Array): LedgerRecord {
  checkBytes(entry, 'record');
  checkLength(publicKey, PUBLIC_KEY_LENGTH, 'public key');
  const record = decodeRecord(entry);
  if (!verifyRecordSignature(record, publicKey, verifyNoble)) {
    fail(
      ErrorCode.BAD_SIGNATURE,
      `record by ${record.author} (key ${record.keyId}) does not verify under the given key`,
    );
  }
  return record;
}

export interface Check {
  readonly name: string;
  readonly status: 'pass' | 'fail' | 'skip';
  readonly detail: string;
}

export interface BundleReport {
  readonly ok: boolean;
  readonly kind: 'inclusion' | 'consistency' | 'fork' | 'replay' | 'status' | 'disclosure' | 'unknown';
  readonly checks: Check[];
}

function run(checks: Check[], name: string, f: () => string): boolean {
  try {
    checks.push({ name, status: 'pass', detail: f() });
    return true;
  } catch (e) {
    // Every refusal is typed; anything else is a bug, reported as one rather than thrown.
    const detail = isDirchainError(e)
      ? `${e.code}: ${e.message}`
      : `${ErrorCode.INTERNAL}: unexpected ${String(e)}`;
    checks.push({ name, status: 'fail', detail });
    return false;
  }
}

function must(ok: boolean, message: string): void {
  if (!ok) throw new DirchainError(ErrorCode.PROOF_INVALID, message);
}

/**
 * Checks a proof bundle (as produced by `dirchain prove --json`) against
 * trusted sequencer keys, and says which check failed. Never throws: malformed
 * keys or a malformed witness policy are failed checks too.
 */
export function verifyBundle(
  json: unknown,
  keys: ReadonlyArray<string | NoteVerifier>,
  policy: WitnessPolicy = {},
): BundleReport {
  const checks: Check[] = [];
  const witnesses = usablePolicy(policy, checks);
  let kind = 'unknown' as BundleReport['kind'];
  let parsed: InclusionBundleBytes | ConsistencyBundleBytes | ForkEvidence | undefined;
  let replay: ReplayEvidence | undefined;
  let status: StatusBundle | undefined;
  let disclosure: DisclosureBundle | undefined;
  let verifiers: NoteVerifier[] = [];
  run(checks, 'trusted keys', () => {
    verifiers = parseKeys(keys);
    if (verifiers.length === 0) fail(ErrorCode.KEY_INVALID, 'no trusted key given');
    return verifiers.map((v) => v.name).join(', ');
  });
  const formatOk = run(checks, 'bundle format', () => {
    const o = parseBundleObject(json);
    kind = bundleKind(o);
    if (kind === 'replay') {
      replay = replayEvidenceFromJSON(o);
      return 'replay evidence';
    }
    if (kind === 'status') {
      status = statusBundleFromJSON(o);
      return 'status bundle';
    }
    if (kind === 'disclosure') {
      disclosure = disclosureFromJSON(o);
      return 'disclosure bundle';
    }
    parsed =
      kind === 'inclusion'
        ? inclusionBundleFromJSON(o)
        : kind === 'fork'
          ? forkEvidenceFromJSON(o)
          : consistencyBundleFromJSON(o);
    return kind === 'fork' ? 'fork evidence' : `${kind} bundle`;
  });
  if (formatOk && replay !== undefined) {
    const e = replay;
    run(checks, 'block note signature', () => {
      const c = verifyCheckpoint(e.note, verifiers, { origin: e.origin });
      return `block ${e.height} at size ${c.size}, signed by ${c.signers.join(', ')}`;
    });
    // The refusal needs the state before the block: no offline check can show it.
    run(checks, 'replayed on a replica', () =>
      fail(ErrorCode.INVALID_ARGUMENT, 'replay evidence is checked against a replica at the block before', {
        hint: 'dirchain verify <file> --key <key> --replica <dir>',
      }),
    );
  }
  if (formatOk && status !== undefined) {
    const b = status;
    let cp: ReturnType<typeof verifyCheckpoint> | undefined;
    run(checks, 'checkpoint signature', () => {
      cp = verifyCheckpoint(b.checkpoint, verifiers, { origin: b.origin, ...witnesses });
      return `${cp.origin} at size ${cp.size}, signed by ${cp.signers.join(', ')}`;
    });
    run(checks, 'status at the checkpoint', () => {
      if (cp === undefined) fail(ErrorCode.CHECKPOINT_INVALID, 'the checkpoint must verify');
      const r = checkStatusBundle(b, cp, hasher, mapHasherNoble);
      return `${r.type} ${JSON.stringify(r.id)} is ${r.status} as of size ${r.asOf.size} (block ${r.asOf.height}, ${isoTime(r.asOf.time)})${r.index === undefined ? '' : `, set by record ${r.index}`}`;
    });
  }
  if (formatOk && disclosure !== undefined) {
    const b = disclosure;
    let cp: ReturnType<typeof verifyCheckpoint> | undefined;
    run(checks, 'checkpoint signature', () => {
      cp = verifyCheckpoint(b.checkpoint, verifiers, { origin: b.origin, ...witnesses });
      return `${cp.origin} at size ${cp.size}, signed by ${cp.signers.join(', ')}`;
    });
    run(checks, 'disclosed attributes', () => {
      if (cp === undefined) fail(ErrorCode.CHECKPOINT_INVALID, 'the checkpoint must verify');
      const r = checkDisclosureBundle(b, cp, hasher, attributeHasherNoble, verifyNoble);
      return `${Object.keys(r.values).join(', ')} of record ${r.index} (${r.kind} by ${r.author})${r.to === undefined ? '' : `, disclosed to ${r.to.member} at ${isoTime(r.to.time)}`}`;
    });
  }
  if (formatOk && parsed !== undefined) {
    if (kind === 'inclusion')
      checkInclusionBundle(parsed as InclusionBundleBytes, verifiers, witnesses, checks);
    else if (kind === 'fork') checkForkEvidence(parsed as ForkEvidence, verifiers, checks);
    else checkConsistencyBundle(parsed as ConsistencyBundleBytes, verifiers, witnesses, checks);
  }
  return { ok: checks.every((c) => c.status !== 'fail'), kind, checks };
}

/**
 * What a status bundle (`dirchain-status/v1`, `ledger.proveStatus`) shows:
 * the status of its entity at its checkpoint, checked against the trusted
 * keys (and witnesses, when a policy is given). A grant's status is judged
 * at the checkpoint's block time, as the access rules judge it. Throws a
 * typed error (E_BAD_SIGNATURE, E_CHECKPOINT_INVALID, E_PROOF_INVALID,
 * E_DECODE) naming what failed.
 *
 *   const s = checkStatus(bundle, [cityKey]);   // { status: 'active', asOf: { size, height, time }, … }
 */
export function checkStatus(
  json: unknown,
  keys: ReadonlyArray<string | NoteVerifier>,
  options: StatusCheckOptions = {},
): StatusResult {
  const b = statusBundleFromJSON(parseBundleObject(json));
  const cp = verifyCheckpoint(b.checkpoint, parseKeys(keys), {
    origin: b.origin,
    ...(options.witnesses === undefined ? {} : { witnesses: options.witnesses }),
    ...(options.quorum === undefined ? {} : { quorum: options.quorum }),
  });
  const result = checkStatusBundle(b, cp, hasher, mapHasherNoble);
  const want = options.expect;
  if (want !== undefined && (result.type !== want.type || result.id !== want.id))
    fail(
      ErrorCode.PROOF_INVALID,
      `the bundle proves the status of ${result.type} ${JSON.stringify(result.id)}, not of ${want.type} ${JSON.stringify(want.id)}`,
      { hint: 'ask for the status of the entity you mean; a bundle speaks for its first item only' },
    );
  return result;
}

/** `checkStatus`'s options: a witness policy, and the entity the bundle must be about. */
export interface StatusCheckOptions extends WitnessPolicy {
  /** The entity asked about: a bundle about another (its first item) is E_PROOF_INVALID. */
  readonly expect?: { readonly type: string; readonly id: string };
}

const mapHasherNoble = mapHasher(sha256Noble);
const attributeHasherNoble = attributeHasher(sha256Noble);

/**
 * What a disclosure bundle (`dirchain-disclosure/v1`, `ledger.disclose`)
 * shows: the disclosed attributes of its record, the record in the log at the
 * checkpoint the trusted keys signed, and the recipient the author bound it
 * to, if any. Throws a typed error (E_BAD_SIGNATURE, E_CHECKPOINT_INVALID,
 * E_PROOF_INVALID, E_SCHEMA, E_DECODE) naming what failed.
 *
 *   const d = verifyDisclosure(bundle, [cityKey]);   // { values: { conditions: '…' }, index, kind, author, to? }
 */
export function verifyDisclosure(
  json: unknown,
  keys: ReadonlyArray<string | NoteVerifier>,
  policy: WitnessPolicy = {},
): DisclosureResult {
  const b = disclosureFromJSON(parseBundleObject(json));
  const cp = verifyCheckpoint(b.checkpoint, parseKeys(keys), {
    origin: b.origin,
    ...(policy.witnesses === undefined ? {} : { witnesses: policy.witnesses }),
    ...(policy.quorum === undefined ? {} : { quorum: policy.quorum }),
  });
  return checkDisclosureBundle(b, cp, hasher, attributeHasherNoble, verifyNoble);
}

/**
 * Fork evidence proves a fork when both checkpoints are signed by a trusted
 * key for the same log and cannot both be true: of the same size with
 * different roots (an append-only log has one tree of each size), or of
 * different sizes with a divergence, leaf i of each tree proven under its
 * signed root and the two leaves different (the smaller tree is then no
 * prefix of the larger, RFC 9162 §2.1.4).
 */
function checkForkEvidence(e: ForkEvidence, verifiers: NoteVerifier[], checks: Check[]): void {
  const opened: Array<Checkpoint | undefined> = [undefined, undefined];
  for (const [i, note] of [e.checkpoint1, e.checkpoint2].entries()) {
    run(checks, `checkpoint ${i + 1} signature`, () => {
      const c = verifyCheckpoint(note, verifiers, { origin: e.origin });
      opened[i] = c;
      return `${c.origin} at size ${c.size}, signed by ${c.signers.join(', ')}`;
    });
  }
  const [a, b] = opened;
  if (a === undefined || b === undefined) {
    run(checks, 'two trees that cannot both be true', () =>
      fail(ErrorCode.CHECKPOINT_INVALID, 'both checkpoints must verify'),
    );
    return;
  }
  if (e.divergence === undefined) {
    run(checks, 'one tree, two roots', () => {
      if (a.size !== b.size) {
        fail(
          ErrorCode.PROOF_INVALID,
          `the checkpoints have sizes ${a.size} and ${b.size}: two signed roots prove a fork only at the same size, or with a divergence (a leaf proven different in each tree)`,
        );
      }
      if (equalBytes(a.root, b.root))
        fail(ErrorCode.PROOF_INVALID, `both checkpoints of size ${a.size} have the same root: no fork`);
      return `the log signed two trees of size ${a.size} with different roots (${toHex(a.root).slice(0, 16)}… and ${toHex(b.root).slice(0, 16)}…): it forked`;
    });
    return;
  }
  const d = e.divergence;
  run(checks, 'two trees, one leaf, two values', () => {
    if (d.index >= Math.min(a.size, b.size))
      fail(
        ErrorCode.PROOF_INVALID,
        `divergence index ${d.index} is not below both tree sizes (${a.size}, ${b.size})`,
      );
    if (equalBytes(d.leaf1, d.leaf2))
      fail(ErrorCode.PROOF_INVALID, `both trees hold the same leaf at ${d.index}: no divergence there`);
    for (const [n, c, leaf, proof] of [
      [1, a, d.leaf1, d.proof1],
      [2, b, d.leaf2, d.proof2],
    ] as const) {
      if (!checkInclusion(hasher, d.index, c.size, leaf, proof, c.root))
        fail(
          ErrorCode.PROOF_INVALID,
          `leaf ${d.index}'s inclusion proof does not verify under checkpoint ${n} (size ${c.size})`,
        );
    }
    return `the log signed trees of sizes ${a.size} and ${b.size} that hold different entries at index ${d.index} (leaf hashes ${toHex(d.leaf1).slice(0, 16)}… and ${toHex(d.leaf2).slice(0, 16)}…): it forked`;
  });
}

/** The policy to check witnesses by; a malformed one is a failed check (and asks for no witnesses). */
function usablePolicy(policy: WitnessPolicy, checks: Check[]): WitnessPolicy {
  try {
    checkWitnessPolicy(policy, 'witness policy');
    return policy;
  } catch (e) {
    run(checks, 'witness policy', () => {
      throw e;
    });
    return {};
  }
}

/** A time in ms as ISO 8601, or in seconds past what a Date holds (a cosignature's time may be). */
function isoTime(ms: number): string {
  return Math.abs(ms) <= 8_640_000_000_000_000
    ? new Date(ms).toISOString()
    : `${ms / 1000} s after the epoch`;
}

function wantsWitnesses(policy: WitnessPolicy): boolean {
  return policy.witnesses !== undefined || policy.quorum !== undefined;
}

function witnessCheck(checks: Check[], name: string, note: string, policy: WitnessPolicy): void {
  run(checks, name, () => {
    const cosigners = verifyCosignatures(note, policy);
    const p = witnessPolicy(parseWitnessKeys(policy.witnesses ?? []), policy.quorum);
    const when = (c: Cosignature) => `${c.name} at ${isoTime(c.time * 1000)}`;
    return `quorum ${p.quorum} of ${p.witnesses.length} met: ${cosigners.map(when).join(', ') || 'none needed'}`;
  });
}

function checkInclusionBundle(
  b: InclusionBundleBytes,
  verifiers: NoteVerifier[],
  policy: WitnessPolicy,
  checks: Check[],
): void {
  let cp: Checkpoint | undefined;
  run(checks, 'checkpoint signature', () => {
    const c = verifyCheckpoint(b.checkpoint, verifiers);
    cp = c;
    return `signed by ${c.signers.join(', ')}`;
  });
  if (wantsWitnesses(policy)) witnessCheck(checks, 'witness cosignatures', b.checkpoint, policy);
  run(checks, 'checkpoint matches bundle', () => {
    if (cp === undefined) fail(ErrorCode.CHECKPOINT_INVALID, 'no verified checkpoint to compare with');
    if (cp.origin !== b.origin)
      fail(ErrorCode.CHECKPOINT_INVALID, `checkpoint origin ${cp.origin} ≠ bundle origin ${b.origin}`);
    if (cp.size !== b.size)
      fail(ErrorCode.CHECKPOINT_INVALID, `checkpoint size ${cp.size} ≠ bundle size ${b.size}`);
    if (!equalBytes(cp.root, b.root)) fail(ErrorCode.CHECKPOINT_INVALID, 'checkpoint root ≠ bundle root');
    return `origin ${cp.origin}, size ${cp.size}`;
  });
  if (isEventEntry(b.leaf)) checkEvent(b, checks);
  else if (isBlockEntry(b.leaf)) {
    // The sequencer's entry that ends a block: no signature of its own, the checkpoint vouches for it.
    run(checks, 'leaf is a block entry of this log', () => {
      const e = decodeBlockEntry(b.leaf);
      // The last leaf of a checkpoint's tree is its block's entry; the extension lines copy it.
      if (b.index === b.size - 1 && cp !== undefined && cp.extensions.length > 0) {
        if (blockEntryLines(e).some((line, i) => cp!.extensions[i] !== line))
          fail(ErrorCode.CHECKPOINT_INVALID, "the checkpoint's block lines disagree with its block entry");
      }
      return `block ${e.height} at ${isoTime(e.time)}`;
    });
  } else {
    run(checks, 'leaf is a record of this log', () => {
      const r = decodeRecord(b.leaf);
      if (r.origin !== b.origin)
        fail(ErrorCode.WRONG_ORIGIN, `record origin ${r.origin} ≠ bundle origin ${b.origin}`);
      return `${r.kind} by ${r.author} at ${new Date(r.timestamp).toISOString()}`;
    });
  }
  run(checks, 'inclusion proof', () => {
    must(
      verifyInclusion({ index: b.index, size: b.size, leaf: b.leaf, proof: b.inclusion, root: b.root }),
      `the proof does not lead from leaf ${b.index} to the root of tree size ${b.size}`,
    );
    return `leaf ${b.index} of ${b.size}, ${b.inclusion.length} hashes`;
  });
}

/**
 * An event of a batch: who signed it. The seal (a signed record) must be in
 * the same tree just before the event's batch, and the event's leaf must lead
 * to the root the seal signs. The author key comes with the bundle: it shows
 * the seal was signed by that key; compare it with the member's published key.
 */
function checkEvent(b: InclusionBundleBytes, checks: Check[]): void {
  let event: LedgerEvent | undefined;
  run(checks, 'leaf is an event of this log', () => {
    event = decodeEvent(b.leaf);
    return `event at position ${event.position} of a batch`;
  });
  run(checks, 'event attribution', () => {
    const a = b.attribution;
    if (a === undefined)
      fail(
        ErrorCode.PROOF_INVALID,
        'the bundle has no attribution section, so nothing shows who signed the event',
      );
    if (event === undefined) fail(ErrorCode.DECODE, 'the leaf is not a well-formed event');
    const seal = decodeRecord(a.seal);
    if (seal.kind !== BATCH_KIND)
      fail(ErrorCode.PROOF_INVALID, `the seal is a ${seal.kind} record, not a batch`);
    if (seal.origin !== b.origin)
      fail(ErrorCode.WRONG_ORIGIN, `seal origin ${seal.origin} ≠ bundle origin ${b.origin}`);
    const body = parseBatchBody(seal.body);
    if (
      a.position !== event.position ||
      a.position >= body.count ||
      a.sealIndex + 1 + a.position !== b.index
    ) {
      fail(
        ErrorCode.PROOF_INVALID,
        `event ${b.index} at position ${event.position} cannot belong to seal ${a.sealIndex} of ${body.count} events`,
      );
    }
    must(
      verifyInclusion({
        index: a.sealIndex,
        size: b.size,
        leaf: a.seal,
        proof: a.sealInclusion,
        root: b.root,
      }),
      `the seal's proof does not lead from leaf ${a.sealIndex} to the root of tree size ${b.size}`,
    );
    must(
      checkInclusion(hasher, a.position, body.count, hasher.leaf(b.leaf), a.path, body.root),
      "the event's path does not lead to the root its seal signs",
    );
    if (!verifyRecordSignature(seal, a.authorKey, verifyNoble)) {
      fail(
        ErrorCode.BAD_SIGNATURE,
        `the seal does not verify under the author key given (${toHex(a.authorKey)})`,
      );
    }
    return (
      `${body.kind} event ${a.position + 1} of ${body.count} sealed at index ${a.sealIndex} by ${seal.author} ` +
      `(key ${seal.keyId}: ${toHex(a.authorKey)}) at ${new Date(seal.timestamp).toISOString()}`
    );
  });
}

/**
 * Witness quorum is asked of checkpoint 2 only: it is the one that authenticates
 * both roots (root1 through the proof), and the older checkpoint may predate the witnesses.
 */
function checkConsistencyBundle(
  b: ConsistencyBundleBytes,
  verifiers: NoteVerifier[],
  policy: WitnessPolicy,
  checks: Check[],
): void {
  for (const [which, note, size, root] of [
    ['1', b.checkpoint1, b.size1, b.root1],
    ['2', b.checkpoint2, b.size2, b.root2],
  ] as const) {
    if (note === undefined) {
      // Without a signed checkpoint for size2 nothing in the bundle is authenticated.
      if (which === '2') {
        checks.push({
          name: 'checkpoint 2',
          status: 'fail',
          detail: `${ErrorCode.CHECKPOINT_INVALID}: no signed checkpoint for size2, so neither root is authenticated`,
        });
      } else {
        checks.push({
          name: 'checkpoint 1',
          status: 'skip',
          detail:
            'no checkpoint for size1 in the bundle: root1 is authenticated by the proof and checkpoint 2',
        });
      }
      continue;
    }
    run(checks, `checkpoint ${which}`, () => {
      const c = verifyCheckpoint(note, verifiers, b.origin === undefined ? {} : { origin: b.origin });
      if (c.size !== size)
        fail(ErrorCode.CHECKPOINT_INVALID, `checkpoint${which} size ${c.size} ≠ size${which} ${size}`);
      if (!equalBytes(c.root, root))
        fail(ErrorCode.CHECKPOINT_INVALID, `checkpoint${which} root ≠ root${which}`);
      return `signed by ${c.signers.join(', ')}, size ${c.size}`;
    });
    if (which === '2' && wantsWitnesses(policy)) witnessCheck(checks, 'witness cosignatures', note, policy);
  }
  run(checks, 'consistency proof', () => {
    must(
      verifyConsistency({
        size1: b.size1,
        size2: b.size2,
        root1: b.root1,
        root2: b.root2,
        proof: b.consistency,
      }),
      `the proof does not show tree ${b.size1} is a prefix of tree ${b.size2}`,
    );
    return `${b.size1} → ${b.size2}, ${b.consistency.length} hashes`;
  });
}

export { fromBase64, fromHex, toBase64, toHex } from './crypto/bytes.js';
export type { Cosignature, WitnessKeyType, WitnessVerifier } from './crypto/cosignature.js';
export { type NoteVerifier, openNote, parseNote } from './crypto/note.js';
export { type BlockEntry, decodeBlockEntry, isBlockEntry } from './encoding/block-entry.js';
export {
  BUNDLE_TYPES,
  type ConsistencyBundleJSON,
  consistencyBundleFromJSON,
  type InclusionBundleJSON,
  inclusionBundleFromJSON,
} from './encoding/bundle.js';
export {
  type BlockHeader,
  type Checkpoint,
  formatCheckpoint,
  parseBlockHeader,
  parseCheckpoint,
} from './encoding/checkpoint.js';
export {
  type BatchBody,
  decodeEvent,
  isEventEntry,
  type LedgerEvent,
  parseBatchBody,
} from './encoding/event.js';
export {
  FORK_TYPE,
  type ForkEvidence,
  type ForkEvidenceJSON,
  forkEvidenceFromJSON,
  forkEvidenceToJSON,
  REPLAY_TYPE,
  type ReplayEvidence,
  replayEvidenceFromJSON,
  replayEvidenceToJSON,
} from './encoding/evidence.js';
export { decodeRecord, type LedgerRecord } from './encoding/record.js';
export { DirchainError, ErrorCode, isDirchainError } from './errors.js';
export { ATTRIBUTE_SCHEMAS, ATTRIBUTE_SLOTS } from './privacy/attribute-schemas.js';
export {
  DISCLOSURE_TYPE,
  type DisclosureBinding,
  disclosureFromJSON,
  disclosureToJSON,
} from './privacy/disclosure.js';
export { type GrantStatus, judgeGrant, type StatusValue } from './state/status.js';
export {
  STATUS_TYPE,
  type StatusBundle,
  type StatusResult,
  statusBundleFromJSON,
  statusBundleToJSON,
} from './state/status-proof.js';
export type { DisclosureBundle, DisclosureResult };
