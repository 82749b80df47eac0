/**
 * Where a command acts: a ledger folder opened in this process, or a node
 * reached over HTTP (`--node URL`, docs/http-api.md). Both are a `LedgerApi`,
 * so a command's body is one piece of code for either; what differs is how
 * the ledger is opened and how a member's signer key becomes a MemberSigner
 * with its current keyId (a folder reads its state, a node is asked).
 */

import { fail, isLedgerUrl } from '../cli-api.js';
import {
  connect,
  DirchainError,
  ErrorCode,
  isDirchainError,
  type Ledger,
  type LedgerApi,
  type LedgerRecord,
  type MemberEntity,
  type MemberSigner,
  memberSigner,
  type Plain,
  type RemoteLedger,
  signRecord,
} from '../index.js';
import { keyArgument } from './node-dir.js';

/** A ledger folder, or the URL of a node. */
export type Place = { readonly folder: string } | { readonly node: string };

/** What a command was given to say where it acts; `positional` is the folder slot (`<dir>`). */
export interface PlaceArgs {
  readonly positional?: string | undefined;
  readonly dir?: string | undefined;
  readonly node?: string | undefined;
}

/** How `connect` is told which key to trust and who signs reads. */
export interface NodeArgs {
  readonly nodeKey?: string | undefined;
  /** The member whose signer key (file or text) signs the node's reads (RFC 9421). */
  readonly as?: string | undefined;
}

const BOTH = 'give a folder or a node, not both';

/**
 * Where a command acts: `<dir>`, `--dir` or `--node` (an explicit flag wins
 * over the environment), else DIRCHAIN_DIR or DIRCHAIN_NODE; undefined when
 * none is given. A folder and a node together are refused (E_INVALID_ARGUMENT),
 * given explicitly or both in the environment.
 */
export function placeOf(a: PlaceArgs, env: NodeJS.ProcessEnv = process.env): Place | undefined {
  const folder = a.positional ?? a.dir;
  if (folder !== undefined && a.node !== undefined) {
    fail(ErrorCode.INVALID_ARGUMENT, `${BOTH}: ${folder} and --node ${a.node}`, {
      hint: 'a folder is opened here; a node is reached over HTTP. With --node, an id goes in --id',
    });
  }
  if (folder !== undefined) return { folder };
  if (a.node !== undefined) return { node: nodeUrl(a.node, '--node') };
  const envFolder = env.DIRCHAIN_DIR;
  const envNode = env.DIRCHAIN_NODE;
  if (envFolder !== undefined && envNode !== undefined) {
    fail(ErrorCode.INVALID_ARGUMENT, `${BOTH}: DIRCHAIN_DIR and DIRCHAIN_NODE are both set`, {
      hint: 'unset one of them, or give <dir>, --dir or --node, which win over both',
    });
  }
  if (envFolder !== undefined) return { folder: envFolder };
  if (envNode !== undefined) return { node: nodeUrl(envNode, 'DIRCHAIN_NODE') };
  return undefined;
}

function nodeUrl(url: string, from: string): string {
  if (!isLedgerUrl(url)) {
    fail(ErrorCode.INVALID_ARGUMENT, `${from} takes the node's http(s) URL, not ${JSON.stringify(url)}`, {
      hint: 'the URL `dirchain node` printed first, e.g. http://127.0.0.1:8080/',
    });
  }
  return url;
}

/**
 * The sequencer verifier key to pin for a node: `--node-key`, else
 * DIRCHAIN_NODE_KEY (key text or a file holding it). Required: the node never
 * tells the CLI which key to trust.
 */
export function nodeKeyOf(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const value = flag ?? env.DIRCHAIN_NODE_KEY;
  if (value === undefined) {
    fail(ErrorCode.INVALID_ARGUMENT, 'a node needs the sequencer verifier key to trust: give --node-key', {
      hint: '--node-key <key text or file> (or DIRCHAIN_NODE_KEY): the key `dirchain init` wrote to <dir>/sequencer.pub; the node is never asked which key to trust',
    });
  }
  return keyArgument(value);
}

/** A ledger opened for a command, folder or node, and what the command needs beside `LedgerApi`. */
export interface Target {
  readonly api: LedgerApi;
  /** The node's URL; undefined for a folder. */
  readonly node: string | undefined;
  /** The member whose signer key this is, with the keyId the ledger knows that key by (its current one). */
  memberSigner(signerKey: string): Promise<MemberSigner>;
  /** Signs a record for this ledger as `member`, without appending it. */
  sign(member: MemberSigner, kind: string, body: Plain): LedgerRecord;
  close(): Promise<void>;
}

/**
 * Opens where a command acts: a folder with `folder` (each command opens its
 * folder as it always has), a node with `connect`. `reads` names a command
 * whose reads on a node are members-only (proofs, queries, directory writes),
 * which then needs --as before anything is sent.
 */
export async function openTarget(
  place: Place,
  node: NodeArgs,
  folder: (dir: string) => Promise<Ledger>,
  reads?: string,
): Promise<Target> {
  if ('folder' in place) return folderTarget(await folder(place.folder));
  const nodeKey = nodeKeyOf(node.nodeKey);
  if (reads !== undefined && node.as === undefined) {
    fail(
      ErrorCode.INVALID_ARGUMENT,
      `${reads} on a node is answered to members: give --as <member signer key file>`,
      {
        hint: 'a node answers proofs and queries to members who sign their requests (RFC 9421)',
      },
    );
  }
  return nodeTarget(place.node, nodeKey, node.as);
}

/** A folder's ledger as a Target: its state names each member's current key. */
function folderTarget(ledger: Ledger): Target {
  return {
    api: ledger,
    node: undefined,
    memberSigner: async (signerKey) => ledger.memberSigner(signerKey),
    sign: (member, kind, body) => ledger.sign(member, kind, body),
    close: () => ledger.close(),
  };
}

/**
 * Connects to the node at `url`, pinning `nodeKey`, with reads signed as
 * `as` (a signer key file or text) when given. Without `as`, only a --public
 * node's checkpoint and tiles can be read, and records submitted.
 */
async function nodeTarget(url: string, nodeKey: string, asKey: string | undefined): Promise<Target> {
  const { remote, as } =
    asKey === undefined
      ? { remote: await connectUnsigned(url, nodeKey), as: undefined }
      : await connectAs(url, nodeKey, keyArgument(asKey));
  return {
    api: remote,
    node: remote.url,
    memberSigner: (signerKey) => memberSignerOn(remote, signerKey, as),
    // The node checks the timestamp against its own clock (maxClockSkewMs), as it would a local one.
    sign: (member, kind, body) =>
      signRecord(
        { origin: remote.origin, kind, author: member.id, keyId: member.keyId, timestamp: Date.now(), body },
        member.signer,
      ),
    close: () => remote.close(),
  };
}

/** The identity of the member whose signer key `asKey` is, with its current keyId on the node at `url`. */
export async function resolveNodeMember(url: string, nodeKey: string, asKey: string): Promise<MemberSigner> {
  const { remote, as } = await connectAs(url, nodeKey, keyArgument(asKey));
  await remote.close();
  return as;
}

const PUBLIC_ONLY =
  'this node answers members only (it is not --public): sign the reads with --as <member signer key file>';

async function connectUnsigned(url: string, nodeKey: string): Promise<RemoteLedger> {
  try {
    return await connect(url, { verifierKey: nodeKey });
  } catch (e) {
    if (isDirchainError(e) && e.code === ErrorCode.UNAUTHENTICATED)
      throw new DirchainError(e.code, e.message, { hint: PUBLIC_ONLY, cause: e });
    throw e;
  }
}

/**
 * A node answers a signed read only under the member's active key, named by
 * its keyId (docs/http-api.md, "Request signatures"), and the member's
 * entity, which says the keyId, is itself a signed read. So the keyIds are
 * tried from 0 (a member whose key was never rotated) until the node accepts
 * one, and the member's entity confirms it; the walk ends at the member's
 * last key (E_UNKNOWN_KEY), and the first refusal is what is reported.
 */
async function connectAs(
  url: string,
  nodeKey: string,
  signerKey: string,
): Promise<{ remote: RemoteLedger; as: MemberSigner }> {
  const key = memberSigner(signerKey);
  let refused: DirchainError | undefined;
  for (let keyId = 0; keyId < MAX_KEYS; keyId++) {
    const as = { ...key, keyId };
    let remote: RemoteLedger | undefined;
    try {
      remote = await connect(url, { verifierKey: nodeKey, as });
      const m = (await remote.query.get('member', key.id)) as MemberEntity | undefined;
      if (m !== undefined && m.activeKeyId === keyId && sameKey(m.keys[keyId], key.signer.publicKey))
        return { remote, as };
      return fail(ErrorCode.REMOTE, `the node accepted key ${keyId} of ${key.id} but its state disagrees`);
    } catch (e) {
      await remote?.close();
      if (!isDirchainError(e)) throw e;
      if (e.code === ErrorCode.UNAUTHENTICATED) {
        refused ??= e;
        continue;
      }
      if (e.code === ErrorCode.UNKNOWN_KEY && refused !== undefined) break;
      throw e;
    }
  }
  return fail(ErrorCode.UNAUTHENTICATED, `the node refused reads signed as ${key.id}: ${refused?.message}`, {
    hint: `--as must name ${key.id}'s current signer key (the one its latest key rotation named), and this machine's clock must be right`,
    ...(refused === undefined ? {} : { cause: refused }),
  });
}

/** Keys a member may have held (every rotation adds one): the walk of connectAs stops here at the latest. */
const MAX_KEYS = 64;

/**
 * A signer key's identity on the node: the member's current keyId, read from
 * its entity (as src/directory/member-signer.ts memberSignerIn does from a
 * state view). The reader `as` needs no lookup.
 */
async function memberSignerOn(
  remote: RemoteLedger,
  signerKey: string,
  as: MemberSigner | undefined,
): Promise<MemberSigner> {
  const s = memberSigner(signerKey);
  if (as !== undefined && as.id === s.id && sameKey(as.signer.publicKey, s.signer.publicKey)) return as;
  if (as === undefined) {
    fail(ErrorCode.INVALID_ARGUMENT, `to sign as ${s.id} on a node, say who reads its state with --as`, {
      hint: '--as <member signer key file>: the node tells members which key is current',
    });
  }
  return remote.memberSigner(signerKey);
}

const sameKey = (a: Uint8Array | undefined, b: Uint8Array): boolean =>
  a !== undefined && Buffer.from(a).equals(Buffer.from(b));
