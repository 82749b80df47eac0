#!/usr/bin/env node
import { parseArgs } from 'node:util';
/**
 * The `dirchain` command. Every command takes --json for machine output and
 * --help for usage; exit codes: 0 success, 1 a check failed or records were
 * refused, 2 usage error, 3 any other error (printed with its code and a hint).
 */
import { isLedgerUrl } from '../cli-api.js';
import { DirchainError, ErrorCode, isDirchainError } from '../index.js';
import { append, MAX_LINE_BYTES } from './append.js';
import {
  audit,
  type Ctx,
  checkpoint,
  EXIT,
  init,
  prove,
  proveStatus,
  rebuild,
  serve,
  verify,
} from './commands.js';
import { type DirectoryArgs, directoryCommand, directoryHelp, queryCommand } from './directory-commands.js';
import { errorJSON, writeError } from './error-output.js';
import { followCommand } from './follow-command.js';
import { red } from './io.js';
import { node, parseListen } from './node-command.js';
import { publishCommand } from './publish-command.js';
import { type NodeArgs, type Place, placeOf } from './target.js';
import { verifyLogCommand } from './verify-log-command.js';
import { witnessCommand } from './witness-command.js';

const HELP: Record<string, string> = {
  '': `dirchain: a signed, hash-chained ledger of a data directory

usage: dirchain <command> [options]
       dirchain --version

commands:
  init <dir> --origin <name>         create a ledger and its keys
  append <dir> --file <ndjson>       append records
  checkpoint <dir>                   print the latest signed checkpoint
  prove <dir> --index I [--size N]   inclusion proof bundle
  prove <dir> --from M [--to N]      consistency proof bundle
  prove-status <dir> --grant G       status bundle: a grant (or --type T --id X) at a checkpoint
  verify <bundle.json> --key <key>   check a proof bundle offline
  audit <dir|url> [--key <key>]      re-verify a whole ledger [--report <out-dir>]
  follow <dir> --from <url> --key K  keep a verified replica of a served ledger [--once]
  verify-log <url> --key K           check any C2SP tlog-tiles log: checkpoint, every entry and tile
  witness keygen|serve ...           a C2SP tlog-witness: cosigns checkpoints that only grew
  node <dir> [--listen HOST:PORT]    run the node: sequence submissions, serve tiles, proofs, queries over HTTP
  serve <dir> [--listen HOST:PORT]   serve a ledger no one is writing, read-only (C2SP tlog-tiles)
  publish <dir|url> --to s3://b/p    upload its tiles to object storage (or --to <folder>), checkpoint last
  rebuild <dir>                      rebuild state and indexes from the records
  member <action> <dir> ...          add, suspend, reinstate, remove members; roles; rotate keys; keygen
  resource <action> <dir> ...        register, update, retire directory resources
  scenario register <dir> ...        register an application scenario
  request <action> <dir> ...         open, answer, close need lists
  grant <action> <dir> ...           issue, revoke grants
  access log <dir> ...               log one use of shared data
  query <what> <dir> ...             search the directory, grants, access logs, need lists

The data folder may also come from --dir or DIRCHAIN_DIR. append, checkpoint, prove,
audit, query and the directory commands act on a running node instead of a folder with
--node URL (or DIRCHAIN_NODE), pinning its key with --node-key <sequencer.pub> (or
DIRCHAIN_NODE_KEY) and signing as --as <member key file>. A flag wins over the variables;
a folder and a node together are refused.
Run dirchain <command> --help for details. Exit codes: 0 ok, 1 check failed, 2 usage, 3 error,
4 the log misbehaved (follow: two signed checkpoints that cannot both be true, or a signed block
its rules refuse; the evidence is kept. verify-log: a tree that does not contain the saved checkpoint).`,
  init: `usage: dirchain init <dir> --origin <name> [--admin <id>] [--json]

Creates <dir>/ledger with a genesis record, a sequencer key named <name> and a
root admin member (default id "bureau"), keys in <dir>/keys (mode 0600).
Prints the sequencer's verifier key (C2SP note format: name+hash+base64key).

example: dirchain init ./city --origin dirchain.example.gov/city`,
  append: `usage: dirchain append <dir> --file <records.ndjson> [--key <member key file>] [--from-line N] [--json]
       dirchain append --node URL --node-key <key> --file <records.ndjson> [--key <file>] [--as <file>] ...

One record per line, either signed elsewhere:
  {"record": "<base64 of the signed entry bytes>"}
or to be signed here, when appended, by the member whose signer key --key names:
  {"kind": "x.note", "body": {"text": "hello"}}
A record signed elsewhere must be appended within maxClockSkewMs (10 min unless
genesis set another) of its signing. Lines are read as a stream. Refused lines are
listed with their number and code (a line over ${MAX_LINE_BYTES} bytes: E_TOO_LARGE,
never read into memory); the others are appended. The report says how many were
appended and their lowest and highest index, also when an error stops it midway
(exit 3, naming the first line not appended).
Running it again on the same unsigned lines appends them again (each is signed
anew, so each is a new record): to resume a run that stopped, pass --from-line
with the line its report named; lines before it are skipped.
On a node (--node), the records are submitted to it in windows; its reads are
signed as --as (default: the --key member), which a node that is not --public needs.
Exit codes: 0 all appended, 1 some lines refused, 3 an error stopped it.

example: dirchain append ./city --file records.ndjson --key ./city/keys/bureau.key`,
  checkpoint: `usage: dirchain checkpoint <dir> [--json]
       dirchain checkpoint --node URL --node-key <key> [--as <member key file>] [--json]

Prints the latest signed checkpoint note exactly as signed. From a node, once it
verifies under --node-key (--as: unless the node is --public).

example: dirchain checkpoint ./city > checkpoint.txt`,
  prove: `usage: dirchain prove <dir> --index I [--size N] [--json]
       dirchain prove <dir> --from M [--to N] [--json]
       dirchain prove --node URL --node-key <key> --as <member key file> (--index I | --from M) ...

Inclusion bundle: {"origin","index","size","leaf","inclusion","root","checkpoint"}.
Consistency bundle: {"size1","size2","root1","root2","consistency"} (+ checkpoints).
N must be a tree size at which a block ends (default: the latest). From a node,
the bundle it gives, once verified under --node-key.

example: dirchain prove ./city --index 42 --json > bundle.json`,
  'prove-status': `usage: dirchain prove-status <dir> --grant G [--size N] [--json]
       dirchain prove-status <dir> --type member|resource|scenario|request|grant --id X [--size N] [--json]
       dirchain prove-status --node URL --node-key <key> --as <member key file> (--grant G | --type T --id X) ...

A status bundle (dirchain-status/v1): the entity's status at the checkpoint of tree
size N (a block boundary; default the latest), proven from the status map root in
that block's entry; a grant's carries its resource and consumer. The bundle goes
to stdout; without --json, what it shows to stderr (a grant judged at the block's
time: active, revoked, expired, not-yet-valid, retired, suspended, or absent).
dirchain verify, dist/verify.js and the browser page check it with the published key.

example: dirchain prove-status ./city --grant g-17 --json > g-17.status.json`,
  verify: `usage: dirchain verify <bundle.json> --key <verifier key or file> [--key ...] [--json]
       dirchain verify <invalid-block.json> --key <key> --replica <dir>

Checks a proof bundle or fork evidence offline against trusted sequencer keys and names the
check that failed. Replay evidence (a block the log signed that its rules refuse, kept by
\`follow\`) is checked against a replica at the block before: --replica <dir>.

example: dirchain verify bundle.json --key ./city/sequencer.pub`,
  rebuild: `usage: dirchain rebuild <dir> [--json]

Rebuilds the materialised state and every index from the records alone
(byte-identical to what the sequencer wrote). Run dirchain audit first on a
ledger you did not write.

example: dirchain rebuild ./city`,
  audit: `usage: dirchain audit <dir|url> [--key <verifier key or file>] [--report <out-dir>]
                      [--checkpoint <file>] [--json]
       dirchain audit --node URL [--node-key <key>] [--as <member key file>] ...

Re-verifies every block, record signature, admission rule and root; for a local
<dir> also every stored hash, state and index entry. A URL (or --node URL) is a
ledger served by \`dirchain serve\` or \`dirchain node\` (tlog-tiles): it is
fetched and replayed the same way. A node that is not --public serves its tiles
to members: --as signs each fetch (with --node-key or --key to find the member's key).
--node-key counts as a key given with --key.
A local <dir> is read in a child process: damaged storage is reported
(E_LEDGER_CORRUPT), even if reading it kills that process.

Exit codes: 0 the ledger is consistent with the key it names, and with --key that
key is one you gave; without --key the key is not checked, and it says so ("key
not checked"). 1 a check failed: names the first bad record index. 3 there was no
ledger to check (no ledger at <dir>, URL unreachable, folder in use).

--report <out-dir>  write report.json and report.html (self-contained, printable):
                    verdict, records per kind / author / scenario over time,
                    grants, anomalies. Written whatever the verdict.
--checkpoint <file> a signed checkpoint saved earlier (dirchain checkpoint): the
                    ledger must contain it, which catches one that lost blocks
                    or was rolled back (nothing inside it can show that).
--json              print the report JSON (with ok, records, blocks, error).

examples: dirchain audit ./city --key ./city/sequencer.pub --report ./audit
          dirchain audit http://127.0.0.1:8080/ --key ./city/sequencer.pub`,
  node: `usage: dirchain node <dir> [--listen HOST:PORT] [--public] [--metrics-listen HOST:PORT]
                     [--max-body BYTES] [--log-level debug|info|warn|error] [--json]

Runs the node that owns the ledger folder until SIGINT/SIGTERM: it appends the
signed records applications POST to it (answering each with its receipt once
durable; a retried submission gets the original receipt), serves the log as
C2SP tlog-tiles while it appends, and answers proofs and directory queries to
members who sign their requests (RFC 9421). The HTTP API is docs/http-api.md.
The first line printed is the URL (--json: {"url","origin","size"}); logs are
JSON lines on stderr. On SIGTERM it refuses new submissions (503), finishes the
blocks in flight and closes the folder.

--listen HOST:PORT         default 127.0.0.1:0 (a free port)
--public                   serve the checkpoint, tiles and block notes to anyone
                           (everything in the log that is not committed or sealed);
                           proofs and queries stay members-only
--metrics-listen HOST:PORT serve /metrics (Prometheus) there instead of on --listen
--max-body BYTES           largest request body read (default 16 MiB)
--witness <url>=<key>      ask this witness (C2SP tlog-witness) to cosign the latest
                           checkpoint every 5 s; the cosigned one is served at
                           /dirchain/v1/checkpoint/cosigned (repeat for more witnesses;
                           <key>: an Ed25519 or ML-DSA-44 witness key)
--replica URL --key K [--as <member key file>]
                           follow the node at URL (pinning key K) into <dir>
                           instead of sequencing, and answer every read from
                           the replica; submissions are refused (403)
  --witness <key> ... [--quorum N]
                           (a replica) follow only checkpoints cosigned by N of
                           these witnesses (default all), and serve the last one
                           at /dirchain/v1/checkpoint/cosigned for its followers

example: dirchain node ./city --listen 127.0.0.1:8080`,
  witness: `usage: dirchain witness keygen <name> [--type ed25519|ml-dsa-44] [--out DIR] [--json]
       dirchain witness serve --key <name>.key --log <origin>=<verifier key or file> [--log ...]
                              [--listen HOST:PORT] [--state FILE] [--json]

keygen writes <name>.key (mode 0600, never overwritten) and prints the witness's
verifier key (name+hash+base64) to publish. --type is the cosignature type (C2SP
tlog-cosignature): ed25519 (cosignature/v1, the default) or ml-dsa-44 (post-quantum,
what the spec recommends for new witnesses; a name of at most 255 bytes).
serve answers C2SP tlog-witness POST /add-checkpoint: it cosigns, with its key's
type, a checkpoint of a log it witnesses only after checking it extends the
latest one it cosigned for that origin; that latest is written durably (--state,
default <name>.state.json) before the answer. The first line printed is its URL.

example: dirchain witness serve --key court.key --log city.example/dir=city.pub --listen 127.0.0.1:8090`,
  follow: `usage: dirchain follow <dir> --from <url> --key <sequencer.pub|key> [--as <member key file>]
                       [--witness <key> ... [--quorum N]] [--once] [--json]

Keeps a verified replica of the ledger served at <url> (a node, \`dirchain serve\`,
another replica) in <dir>/ledger, block by block: every record's signature and
the ledger's rules are replayed, every block is checked against its signed note
under the pinned key, every served hash tile is compared with the replica's own.
Needs no private key. Killed at any point, it resumes from its last block.
Without --once it keeps following (polling the checkpoint) until SIGINT/SIGTERM.
--as signs the requests as a member (a node that is not --public asks it).
--from <folder> (a copy of a dirchain folder, e.g. a backup; no process may have
it open) is read without HTTP and checked the same way.
--witness K [--witness K2 ...] [--quorum N]: follow only checkpoints cosigned by N
of these witnesses (default all; Ed25519 or ML-DSA-44 witness keys), read from the
node's cosigned checkpoint.
The replica is a ledger folder: query, prove and audit read it once follow has
exited; \`dirchain node <dir> --replica <url> --key K\` follows and serves it.

example: dirchain follow ./health-replica --from http://bureau:8080/ --key city.pub --as health.key`,
  'verify-log': `usage: dirchain verify-log <url> --key <verifier key or file> [--origin <origin>]
                           [--checkpoint <file>] [--json]

Verifies any C2SP tlog-tiles log whose checkpoints are signed with an Ed25519 note
key: a dirchain ledger served by serve or node, or a log other software writes.
  - <url>/checkpoint is signed by --key (other signatures are ignored) and names
    the origin --origin (default: the key's name);
  - every entry bundle the checkpoint implies is hashed into its level-0 tile,
    every hash tile at every level is recomputed and compared byte for byte,
    and the tree's root is the checkpoint's.
Entries are read as bytes: what a dirchain ledger's records mean (signatures,
rules, blocks) is what audit <url> and follow check. Redirects are not followed;
each request has 30 s.

--checkpoint <file>  a signed checkpoint of this log saved earlier. If the file
                     exists, it must verify under --key with the same origin, and
                     the log's tree must contain it (its first entries hash to its
                     root): a log that rewrote its history is refused, and so is a
                     served checkpoint older than the saved one. Once the log
                     verifies, the file is replaced (atomically) by the checkpoint
                     just verified; a file that does not exist yet is made then.

Exit codes: 0 verified. 1 a check failed: the checkpoint's signature or origin, an
entry or tile (named with its path and the first entry index affected), a served
checkpoint older than the saved one. 3 the log could not be read (unreachable, an
HTTP status other than 200, a body larger than the resource, no answer in time).
4 the tree does not contain the saved checkpoint: the log forked.

example: dirchain verify-log https://log.example.org/tevere/ --key log.vkey --checkpoint tevere.checkpoint`,
  publish: `usage: dirchain publish <dir|url> --to s3://<bucket>/<prefix> [--endpoint URL] [--region R]
                        [--key <sequencer.pub|key>] [--as <member key file>] [--json]
       dirchain publish <dir|url> --to <folder> [--key ...] [--json]

Uploads the ledger as static C2SP tlog-tiles objects, the paths \`serve\` answers:
checkpoint, tile/<L>/<N>[.p/<W>], tile/entries/<N>[.p/<W>], dirchain/blocks/<N>[.p/<W>],
with serve's Content-Type and Cache-Control (full tiles immutable, partial ones and
the checkpoint no-cache). Incremental: the checkpoint already at the target says what
is there; only the tiles and bundles completed or widened since are uploaded, then
the checkpoint, last, so a reader never sees a checkpoint whose tiles are missing.
Nothing is deleted. A checkpoint at the target must be this log's and a prefix of the
source's: a rollback or a fork over it is refused.
A follower then needs only the bucket's HTTP address (anonymous GETs allowed) or a
static file server over the folder: dirchain follow <dir> --from <that URL> --key K.

<dir|url>     the ledger folder (read, never changed; not while a node holds it), or
              the URL of a node or \`serve\` (then --key is required, and --as signs
              the reads for a node that is not --public)
--to          s3://bucket/prefix on any S3-compatible store, or a folder
--endpoint    the store's URL (MinIO, Ceph, R2, s3rver ...), addressed path-style;
              default AWS S3
--region      default AWS_REGION, else us-east-1
Credentials come from the AWS SDK's chain: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY,
AWS_PROFILE, ... Exit codes: 0 published, 1 refused (a checkpoint that does not verify,
or the target is ahead of the source), 3 the store or source failed, 4 the target holds
a tree the source's log contradicts (a fork).

example: dirchain publish ./city --to s3://ledgers/city --endpoint http://127.0.0.1:9000`,
  serve: `usage: dirchain serve <dir> [--listen HOST:PORT] [--json]

Serves the ledger read-only over HTTP until interrupted (the folder stays locked):
  /checkpoint                    newest signed block note (a C2SP checkpoint)
  /tile/<L>/<N>[.p/<W>]          hash tiles, height 8 (C2SP tlog-tiles)
  /tile/entries/<N>[.p/<W>]      entry bundles
  /dirchain/blocks/<N>[.p/<W>]   block notes, 256 per bundle (dirchain extension)
--listen defaults to 127.0.0.1:0 (a free port); the URL is printed first.
(--port P and --host H still work.) For a ledger that is being written, run
\`dirchain node\`, which serves the same paths while it appends.

example: dirchain serve ./city --listen 127.0.0.1:8080`,
};

/** Put in by the build (tsup `define`) from package.json; absent when this file runs from source. */
declare const __DIRCHAIN_VERSION__: string | undefined;

/** The package version (`dirchain --version`); "dev" when run from source. */
const VERSION: string = typeof __DIRCHAIN_VERSION__ === 'string' ? __DIRCHAIN_VERSION__ : 'dev';

function usage(message: string): never {
  throw new DirchainError(ErrorCode.INVALID_ARGUMENT, message, { hint: 'run with --help for usage' });
}

function int(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value)))
    usage(`--${name} must be a non-negative integer, not ${JSON.stringify(value)}`);
  return Number(value);
}

/** Errors about the command or the machine exit 2 or 3; a record the ledger refused exits 1. */
const OPERATIONAL: ReadonlySet<string> = new Set([
  ErrorCode.STORAGE,
  ErrorCode.LEDGER_NOT_FOUND,
  ErrorCode.LEDGER_EXISTS,
  ErrorCode.LEDGER_CLOSED,
  ErrorCode.LEDGER_CORRUPT,
  ErrorCode.READ_ONLY,
  ErrorCode.NOT_FOUND,
  ErrorCode.KEY_INVALID,
  ErrorCode.DECODE,
  ErrorCode.LEDGER_FORMAT,
  ErrorCode.REMOTE,
  ErrorCode.UNAUTHENTICATED,
  ErrorCode.REPLAYED,
  ErrorCode.UNAVAILABLE,
  ErrorCode.METHOD_NOT_ALLOWED,
  ErrorCode.CONTENT_TYPE,
]);

function exitCodeOf(code: string): number {
  if (code === ErrorCode.INVALID_ARGUMENT) return EXIT.usage;
  if (code === ErrorCode.FORK || code === ErrorCode.INVALID_BLOCK) return EXIT.fork;
  return OPERATIONAL.has(code) ? EXIT.error : EXIT.failed;
}

export async function main(argv: string[]): Promise<number> {
  const [command = '', ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    strict: true,
    options: {
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
      dir: { type: 'string' },
      origin: { type: 'string' },
      admin: { type: 'string', default: 'bureau' },
      file: { type: 'string' },
      key: { type: 'string', multiple: true },
      index: { type: 'string' },
      size: { type: 'string' },
      from: { type: 'string' },
      'from-line': { type: 'string' },
      to: { type: 'string' },
      id: { type: 'string' },
      name: { type: 'string' },
      roles: { type: 'string' },
      'signing-key': { type: 'string' },
      'encryption-key': { type: 'string' },
      reason: { type: 'string' },
      as: { type: 'string' },
      node: { type: 'string' },
      'node-key': { type: 'string' },
      approve: { type: 'string', multiple: true },
      grant: { type: 'string' },
      refuse: { type: 'string' },
      fields: { type: 'string' },
      count: { type: 'string' },
      purpose: { type: 'string' },
      consumer: { type: 'string' },
      resource: { type: 'string' },
      provider: { type: 'string' },
      scenario: { type: 'string' },
      department: { type: 'string' },
      theme: { type: 'string' },
      level: { type: 'string' },
      sharing: { type: 'string' },
      text: { type: 'string' },
      status: { type: 'string' },
      at: { type: 'string' },
      limit: { type: 'string' },
      cursor: { type: 'string' },
      kind: { type: 'string' },
      report: { type: 'string' },
      checkpoint: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      listen: { type: 'string' },
      public: { type: 'boolean', default: false },
      'metrics-listen': { type: 'string' },
      'max-body': { type: 'string' },
      'log-level': { type: 'string' },
      once: { type: 'boolean', default: false },
      out: { type: 'string' },
      log: { type: 'string', multiple: true },
      state: { type: 'string' },
      type: { type: 'string' },
      witness: { type: 'string', multiple: true },
      quorum: { type: 'string' },
      replica: { type: 'string' },
      endpoint: { type: 'string' },
      region: { type: 'string' },
    },
  });
  const ctx: Ctx = { json: values.json === true, out: (s) => process.stdout.write(`${s}\n`) };
  if (command === '--version' || command === '-v') {
    ctx.out(ctx.json ? JSON.stringify({ version: VERSION }) : VERSION);
    return EXIT.ok;
  }
  if (command === '' || command === 'help' || command === '--help' || command === '-h') {
    ctx.out(HELP['']!);
    return command === '' ? EXIT.usage : EXIT.ok;
  }
  const groupHelp = directoryHelp(command);
  if (HELP[command] === undefined && groupHelp === undefined)
    usage(`unknown command ${JSON.stringify(command)}`);
  if (values.help) {
    ctx.out(HELP[command] ?? groupHelp!);
    return EXIT.ok;
  }
  // On a node: the sequencer key to pin, and the member who signs (records, and reads: RFC 9421).
  const nodeArgs: NodeArgs = { nodeKey: values['node-key'], as: values.as };
  if (groupHelp !== undefined) {
    // dirchain <group> <action> <dir> | dirchain query <what> <dir> [id]; with --node, no <dir>
    const [action, dirArg, id] = positionals;
    if (action === undefined) usage(`give an action: ${groupHelp.split('\n')[0]}`);
    if (command === 'member' && action === 'keygen')
      return directoryCommand(ctx, command, action, undefined, values);
    const place = placeOf({ positional: dirArg, dir: values.dir, node: values.node });
    if (place === undefined)
      usage(
        'give the data folder after the action (or --dir / DIRCHAIN_DIR), or a node: --node URL / DIRCHAIN_NODE',
      );
    return command === 'query'
      ? queryCommand(ctx, action, place, id, values as DirectoryArgs, nodeArgs)
      : directoryCommand(ctx, command, action, place, values as DirectoryArgs, nodeArgs);
  }
  /** Where a command that takes a folder or a node acts. */
  const where = (): Place => {
    const place = placeOf({ positional: positionals[0], dir: values.dir, node: values.node });
    if (place === undefined)
      usage('give the data folder as <dir> (or --dir / DIRCHAIN_DIR), or a node: --node URL / DIRCHAIN_NODE');
    return place;
  };
  /** The folder of a command that works on a folder only (it holds the ledger's files, or serves them). */
  const dir = (): string => {
    if (values.node !== undefined)
      usage(`dirchain ${command} works on a folder, not a node: give <dir> instead of --node`);
    const d = positionals[0] ?? values.dir ?? process.env.DIRCHAIN_DIR;
    if (d === undefined) usage('give the data folder as <dir>, --dir or DIRCHAIN_DIR');
    return d;
  };
  switch (command) {
    case 'init':
      if (values.origin === undefined) usage('init needs --origin <name>');
      return init(ctx, dir(), values.origin, values.admin!);
    case 'append':
      if (values.file === undefined) usage('append needs --file <records.ndjson>');
      return append(
        ctx,
        where(),
        values.file,
        values.key?.[0],
        int(values['from-line'], 'from-line') ?? 1,
        nodeArgs,
      );
    case 'checkpoint':
      return checkpoint(ctx, where(), nodeArgs);
    case 'prove': {
      const index = int(values.index, 'index');
      const from = int(values.from, 'from');
      if ((index === undefined) === (from === undefined))
        usage('prove needs exactly one of --index or --from');
      return prove(
        ctx,
        where(),
        {
          ...(index === undefined ? {} : { index }),
          ...(from === undefined ? {} : { from }),
          ...(values.size === undefined ? {} : { size: int(values.size, 'size')! }),
          ...(values.to === undefined ? {} : { to: int(values.to, 'to')! }),
        },
        nodeArgs,
      );
    }
    case 'verify':
      if (positionals[0] === undefined) usage('verify needs <bundle.json>');
      return verify(ctx, positionals[0], values.key ?? []);
    case 'audit': {
      // `audit <url>` is `audit --node <url>`.
      const [target] = positionals;
      const url = target !== undefined && isLedgerUrl(target);
      if (url && values.node !== undefined) usage('give the node once: <url> or --node URL');
      const place = url
        ? placeOf({ node: target, dir: values.dir })
        : placeOf({ positional: target, dir: values.dir, node: values.node });
      if (place === undefined)
        usage(
          'give the data folder or URL as <dir|url> (or --dir / DIRCHAIN_DIR), or --node URL / DIRCHAIN_NODE',
        );
      return audit(ctx, place, values.key ?? [], values.report, values.checkpoint, nodeArgs);
    }
    case 'serve': {
      if (values.listen !== undefined && (values.port !== undefined || values.host !== undefined))
        usage('give --listen HOST:PORT, or --host/--port, not both');
      const listen =
        values.listen === undefined
          ? { host: values.host ?? '127.0.0.1', port: int(values.port, 'port') ?? 0 }
          : parseListen(values.listen, '--listen');
      if (listen.port > 65535) usage('--port must be at most 65535');
      return serve(ctx, dir(), listen.host, listen.port);
    }
    case 'witness':
      return witnessCommand(ctx, positionals[0], positionals[1], {
        out: values.out,
        type: values.type,
        key: values.key?.[0],
        logs: values.log ?? [],
        listen: values.listen ?? '127.0.0.1:0',
        state: values.state,
      });
    case 'follow':
      return followCommand(ctx, dir(), {
        from: values.from,
        key: values.key?.[0] ?? values['node-key'],
        as: values.as,
        once: values.once === true,
        witnesses: values.witness ?? [],
        quorum: int(values.quorum, 'quorum'),
      });
    case 'verify-log':
      return verifyLogCommand(ctx, positionals[0], {
        keys: values.key ?? [],
        origin: values.origin,
        checkpoint: values.checkpoint,
      });
    case 'node':
      return node(ctx, dir(), {
        listen: values.listen ?? '127.0.0.1:0',
        public: values.public === true,
        metricsListen: values['metrics-listen'],
        maxBody: int(values['max-body'], 'max-body'),
        logLevel: values['log-level'],
        witnesses: values.witness ?? [],
        ...(values.quorum === undefined ? {} : { quorum: int(values.quorum, 'quorum') }),
        ...(values.replica === undefined
          ? {}
          : { replica: { from: values.replica, key: values.key?.[0] ?? values['node-key'], as: values.as } }),
      });
    case 'publish':
      if (values.node !== undefined) usage('give the node as <url>, not --node');
      return publishCommand(ctx, positionals[0] ?? values.dir ?? process.env.DIRCHAIN_DIR, {
        to: values.to,
        endpoint: values.endpoint,
        region: values.region,
        key: values.key?.[0] ?? values['node-key'],
        as: values.as,
      });
    case 'prove-status': {
      const grant = values.grant as string | undefined;
      const type = grant !== undefined ? 'grant' : (values.type as string | undefined);
      const id = grant ?? (values.id as string | undefined);
      if (type === undefined || id === undefined || (grant !== undefined && values.type !== undefined))
        usage('prove-status needs --grant G, or --type T --id X');
      return proveStatus(
        ctx,
        where(),
        { type, id, ...(values.size === undefined ? {} : { size: int(values.size, 'size')! }) },
        nodeArgs,
      );
    }
    case 'rebuild':
      return rebuild(ctx, dir());
    default:
      return usage(`unknown command ${command}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    const json = process.argv.includes('--json');
    if (isDirchainError(e)) {
      if (json) process.stdout.write(`${JSON.stringify({ error: errorJSON(e) })}\n`);
      writeError(e);
      process.exitCode = exitCodeOf(e.code);
    } else if ((e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      if (json) {
        const error = { code: ErrorCode.INVALID_ARGUMENT, message: (e as Error).message };
        process.stdout.write(`${JSON.stringify({ error })}\n`);
      }
      process.stderr.write(
        `${red('error E_INVALID_ARGUMENT:')} ${(e as Error).message}\nhint: run with --help for usage\n`,
      );
      process.exitCode = EXIT.usage;
    } else {
      writeError(e);
      process.exitCode = EXIT.error;
    }
  },
);
