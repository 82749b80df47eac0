/**
 * `dirchain member|resource|scenario|request|grant|access ...` and `dirchain query ...`:
 * the directory's domain API from the shell, on a ledger folder or a node
 * (`--node URL`). Writes sign as the member whose key `--as` names (on a
 * folder, by default the root admin key `init` made); on a folder they open
 * the ledger with its sequencer key, on a node they submit to it.
 */

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fail, fromBase64 } from '../cli-api.js';
import {
  type ApprovalOptions,
  ErrorCode,
  generateKeyPair,
  KIND,
  loadVerifier,
  type MemberEntity,
  type MemberSigner,
  openLedger,
  type Page,
  type Receipt,
  type ResourceFilter,
  ROLES,
  type Role,
  SHARING,
  type Sharing,
} from '../index.js';
import { type Ctx, EXIT } from './commands.js';
import {
  keyArgument,
  keysPath,
  ledgerPath,
  readKeyFile,
  readSequencerKey,
  requireLedgerFolder,
} from './node-dir.js';
import { type NodeArgs, openTarget, type Place, type Target } from './target.js';

export interface DirectoryArgs {
  id?: string;
  name?: string;
  roles?: string;
  'signing-key'?: string;
  'encryption-key'?: string;
  reason?: string;
  as?: string;
  approve?: string[];
  file?: string;
  grant?: string;
  refuse?: string;
  fields?: string;
  count?: string;
  purpose?: string;
  consumer?: string;
  resource?: string;
  provider?: string;
  scenario?: string;
  department?: string;
  theme?: string;
  level?: string;
  sharing?: string;
  text?: string;
  status?: string;
  at?: string;
  limit?: string;
  cursor?: string;
  kind?: string;
}

function need<K extends keyof DirectoryArgs>(
  a: DirectoryArgs,
  k: K,
  usage: string,
): NonNullable<DirectoryArgs[K]> {
  const v = a[k];
  if (v === undefined)
    fail(ErrorCode.INVALID_ARGUMENT, `missing --${k}: ${usage}`, { hint: 'run with --help for usage' });
  return v as NonNullable<DirectoryArgs[K]>;
}

function list(v: string): string[] {
  return v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function jsonFile(path: string): Record<string, unknown> {
  if (!existsSync(path)) fail(ErrorCode.INVALID_ARGUMENT, `no such file: ${path}`);
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    return fail(ErrorCode.DECODE, `${path} is not valid JSON: ${(e as Error).message}`);
  }
}

/** `--as`: a signer key file (or key text); on a folder, default the root admin key made by init. */
function signerFor(place: Place, a: DirectoryArgs, target: Target): Promise<MemberSigner> {
  let text: string;
  if (a.as !== undefined) text = keyArgument(a.as);
  else {
    const dir = 'folder' in place ? place.folder : undefined;
    const keys =
      dir !== undefined && existsSync(keysPath(dir))
        ? readdirSync(keysPath(dir)).filter((f) => f.endsWith('.key') && f !== 'sequencer.key')
        : [];
    if (keys.length !== 1)
      fail(ErrorCode.INVALID_ARGUMENT, 'say which member signs with --as <signer key file>');
    text = readKeyFile(join(keysPath(dir!), keys[0]!));
  }
  return target.memberSigner(text);
}

function publicKeyArgument(v: string): Uint8Array {
  const text = keyArgument(v);
  if (text.includes('+')) return loadVerifier(text).publicKey;
  const raw = fromBase64(text);
  if (raw.length !== 32)
    fail(ErrorCode.KEY_INVALID, 'a public key is a verifier key (name+hash+base64) or 32 bytes of base64');
  return raw;
}

async function withTarget(
  place: Place,
  node: NodeArgs,
  reads: string,
  f: (target: Target) => Promise<number>,
): Promise<number> {
  // A folder without a ledger is the wrong folder (E_LEDGER_NOT_FOUND), not a missing key.
  const target = await openTarget(
    place,
    node,
    (dir) => openLedger(ledgerPath(dir), { sequencerKey: readSequencerKey(dir) }),
    reads,
  );
  try {
    return await f(target);
  } finally {
    await target.close();
  }
}

/**
 * The index of the record that last changed member `id` (governance terms
 * name it as `after`), read from a node: its client has no state view to fill
 * it in as a folder's ledger does (Directory.propose).
 */
async function lastChangeOf(target: Target, id: string): Promise<number | undefined> {
  if (target.node === undefined) return undefined;
  const m = (await target.api.query.get('member', id)) as MemberEntity | undefined;
  if (m === undefined) fail(ErrorCode.UNKNOWN_MEMBER, `${id} is not a member of this ledger`);
  return m.index;
}

function receipt(ctx: Ctx, what: string, r: Receipt): number {
  ctx.out(
    ctx.json ? JSON.stringify({ ok: true, what, ...r }) : `${what}: record ${r.index} in block ${r.height}`,
  );
  return EXIT.ok;
}

const USAGE: Record<string, string> = {
  member: `usage: dirchain member <action> <dir> [options] [--as <key file>] [--approve <admin key file>]...
  keygen --id <member id>                            print a new signer key and its verifier key
  add --id <id> --name <name> --roles r1,r2 --signing-key <verifier key> [--encryption-key <base64>]
  suspend|reinstate|remove --id <id> [--reason <text>]
  roles --id <id> --roles r1,r2
  rotate-key --id <id> --signing-key <verifier key>  (as the member itself, or an admin)
roles: ${ROLES.join(', ')}. --approve adds an admin approval (m-of-n quorum).

example: dirchain member add ./city --id health --name "Health Commission" --roles provider,consumer --signing-key health.pub`,
  resource: `usage: dirchain resource <action> <dir> [options] --as <provider key file>
  register|update --file <resource.json>   (id, owner, title, description, theme, format, updateCycle,
                                            sourceSystem, fields [{name, level}], level 1-4,
                                            sharing ${SHARING.join('|')}, opening)
  retire --id <id> [--reason <text>]

example: dirchain resource register ./city --file marriage.json --as ./keys/civil-affairs.key`,
  scenario: `usage: dirchain scenario register <dir> --file <scenario.json> --as <key file>
scenario.json: {"id", "name", "lead", "legalBasis", "description"?}`,
  request: `usage: dirchain request <action> <dir> [options] --as <key file>
  open --file <request.json>             {"id", "provider", "resource", "fields", "scenario", "purpose"}
  answer --id <id> (--grant <grant id> | --refuse <reason>)
  close --id <id> [--reason <text>]`,
  grant: `usage: dirchain grant <action> <dir> [options] --as <provider key file>
  issue --file <grant.json> [--approve <admin key file>]   {"id", "consumer", "resource", "fields", "scenario",
                                                           "purpose", "validFrom", "validTo" (ms),
                                                           "conditions"?, "request"?}
  revoke --id <id> [--reason <text>]
Level-4 fields need an admin countersignature: --approve <admin key file>.`,
  access: `usage: dirchain access log <dir> --grant <id> --fields f1,f2 --count <n> --purpose <text> --as <consumer key file>`,
  query: `usage: dirchain query <what> <dir> [id] [options] [--limit N] [--cursor C] [--json]
  resources [--department D] [--theme T] [--level L] [--sharing S] [--text words] [--status active|retired|any]
  member|resource|scenario|request|grant <id>     one entity's current state
  history <resource id>                           every version of a resource
  grants --consumer C [--at ms] | --resource R | --scenario S
  logs --grant G | --resource R                   access logs
  requests --provider P                           need lists still open
  records --kind K                                records of a kind by block time
Results carry "index": prove one with dirchain prove <dir> --index I.
On a node: --node URL --node-key <key> --as <member key file> instead of <dir>; an id as --id
(history: --resource).`,
};

/** How every group's usage ends: the same command on a node. */
const ON_A_NODE = 'On a node: --node URL --node-key <sequencer key> instead of <dir>; --as is then required.';

export function directoryHelp(group: string): string | undefined {
  const usage = USAGE[group];
  return usage === undefined || group === 'query' ? usage : `${usage}\n${ON_A_NODE}`;
}

export async function directoryCommand(
  ctx: Ctx,
  group: string,
  action: string | undefined,
  place: Place | undefined,
  a: DirectoryArgs,
  node: NodeArgs = {},
): Promise<number> {
  if (group === 'member' && action === 'keygen') {
    const k = generateKeyPair(need(a, 'id', 'the new member id'));
    ctx.out(
      ctx.json
        ? JSON.stringify({ signerKey: k.signerKey, verifierKey: k.verifierKey })
        : `${k.signerKey}\n${k.verifierKey}`,
    );
    return EXIT.ok;
  }
  const key = `${group} ${action ?? ''}`.trim();
  return withTarget(place!, node, `dirchain ${key}`, async (target) => {
    const d = target.api.directory;
    const as = () => signerFor(place!, a, target);
    const approvals = async (): Promise<ApprovalOptions> => ({
      approvers: await Promise.all((a.approve ?? []).map((f) => target.memberSigner(keyArgument(f)))),
    });
    /** A governance record about an existing member (Directory.suspendMember and the like, with `after` on a node). */
    const govern = async (
      kind: string,
      author: MemberSigner,
      terms: { member: string; [field: string]: unknown },
    ): Promise<Receipt> => {
      const after = await lastChangeOf(target, terms.member);
      const proposal = d.propose(kind, after === undefined ? terms : { ...terms, after });
      return d.submitProposal(author, proposal, await approvals());
    };
    switch (key) {
      case 'member add':
        return receipt(
          ctx,
          'member added',
          await d.addMember(
            await as(),
            {
              id: need(a, 'id', 'member id'),
              name: need(a, 'name', 'display name'),
              roles: roles(need(a, 'roles', 'comma-separated roles')),
              signingKey: publicKeyArgument(need(a, 'signing-key', 'the member verifier key')),
              ...(a['encryption-key'] ? { encryptionKey: fromBase64(a['encryption-key']) } : {}),
            },
            await approvals(),
          ),
        );
      case 'member suspend':
        return receipt(
          ctx,
          'member suspended',
          await govern(KIND.memberSuspend, await as(), {
            member: need(a, 'id', 'member id'),
            reason: a.reason,
          }),
        );
      case 'member reinstate':
        return receipt(
          ctx,
          'member reinstated',
          await govern(KIND.memberReinstate, await as(), { member: need(a, 'id', 'member id') }),
        );
      case 'member remove':
        return receipt(
          ctx,
          'member removed',
          await govern(KIND.memberRemove, await as(), {
            member: need(a, 'id', 'member id'),
            reason: a.reason,
          }),
        );
      case 'member roles':
        return receipt(
          ctx,
          'roles set',
          await govern(KIND.memberRoles, await as(), {
            member: need(a, 'id', 'member id'),
            roles: roles(need(a, 'roles', 'roles')),
          }),
        );
      case 'member rotate-key':
        return receipt(
          ctx,
          'key rotated',
          await govern(KIND.memberRotateKey, await as(), {
            member: need(a, 'id', 'member id'),
            signingKey: publicKeyArgument(need(a, 'signing-key', 'the new verifier key')),
          }),
        );
      case 'resource register':
        return receipt(
          ctx,
          'resource registered',
          await d.registerResource(await as(), jsonFile(need(a, 'file', 'resource JSON')) as never),
        );
      case 'resource update':
        return receipt(
          ctx,
          'resource updated',
          await d.updateResource(await as(), jsonFile(need(a, 'file', 'resource JSON')) as never),
        );
      case 'resource retire':
        return receipt(
          ctx,
          'resource retired',
          await d.retireResource(await as(), need(a, 'id', 'resource id'), a.reason),
        );
      case 'scenario register':
        return receipt(
          ctx,
          'scenario registered',
          await d.registerScenario(await as(), jsonFile(need(a, 'file', 'scenario JSON')) as never),
        );
      case 'request open':
        return receipt(
          ctx,
          'request opened',
          await d.openRequest(await as(), jsonFile(need(a, 'file', 'request JSON')) as never),
        );
      case 'request answer': {
        const id = need(a, 'id', 'request id');
        if ((a.grant === undefined) === (a.refuse === undefined))
          fail(ErrorCode.INVALID_ARGUMENT, 'answer with exactly one of --grant or --refuse');
        const answer =
          a.grant !== undefined
            ? { decision: 'granted' as const, grant: a.grant }
            : { decision: 'refused' as const, reason: a.refuse! };
        return receipt(ctx, 'request answered', await d.answerRequest(await as(), id, answer));
      }
      case 'request close':
        return receipt(
          ctx,
          'request closed',
          await d.closeRequest(await as(), need(a, 'id', 'request id'), a.reason),
        );
      case 'grant issue':
        return receipt(
          ctx,
          'grant issued',
          await d.issueGrant(await as(), jsonFile(need(a, 'file', 'grant JSON')) as never, await approvals()),
        );
      case 'grant revoke':
        return receipt(
          ctx,
          'grant revoked',
          await d.revokeGrant(await as(), need(a, 'id', 'grant id'), a.reason),
        );
      case 'access log':
        return receipt(
          ctx,
          'access logged',
          await d.logAccess(await as(), {
            grant: need(a, 'grant', 'grant id'),
            fields: list(need(a, 'fields', 'comma-separated fields')),
            count: num(need(a, 'count', 'rows used'), 'count')!,
            purpose: need(a, 'purpose', 'purpose of this use'),
          }),
        );
      default:
        return fail(ErrorCode.INVALID_ARGUMENT, `unknown action: dirchain ${key}`, {
          hint: `run dirchain ${group} --help`,
        });
    }
  });
}

function roles(v: string): Role[] {
  const rs = list(v);
  for (const r of rs)
    if (!ROLES.includes(r as Role))
      fail(ErrorCode.INVALID_ARGUMENT, `unknown role ${r}; roles are ${ROLES.join(', ')}`);
  return rs as Role[];
}

function num(v: string | undefined, what: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v)))
    fail(ErrorCode.INVALID_ARGUMENT, `--${what} must be a non-negative integer, not ${JSON.stringify(v)}`, {
      hint: 'run with --help for usage',
    });
  return Number(v);
}

export async function queryCommand(
  ctx: Ctx,
  what: string | undefined,
  place: Place,
  id: string | undefined,
  a: DirectoryArgs,
  node: NodeArgs = {},
): Promise<number> {
  const target = await openTarget(
    place,
    node,
    (dir) => {
      requireLedgerFolder(dir);
      return openLedger(ledgerPath(dir));
    },
    'dirchain query',
  );
  try {
    const q = target.api.query;
    const limit = num(a.limit, 'limit');
    const page = { ...(limit === undefined ? {} : { limit }), ...(a.cursor ? { cursor: a.cursor } : {}) };
    let result: Page<unknown> | unknown;
    switch (what) {
      case 'resources': {
        const level = num(a.level, 'level');
        if (a.sharing !== undefined && !SHARING.includes(a.sharing as Sharing))
          fail(ErrorCode.INVALID_ARGUMENT, `--sharing is one of ${SHARING.join(', ')}`);
        const filter: ResourceFilter = {
          ...(a.department ? { department: a.department } : {}),
          ...(a.theme ? { theme: a.theme } : {}),
          ...(level === undefined ? {} : { level }),
          ...(a.sharing ? { sharing: a.sharing as Sharing } : {}),
          ...(a.text ? { text: a.text } : {}),
          ...(a.status ? { status: a.status as 'active' } : {}),
        };
        result = await q.searchResources(filter, page);
        break;
      }
      case 'member':
      case 'resource':
      case 'scenario':
      case 'request':
      case 'grant': {
        const e = await q.get(what, id ?? need(a, 'id', `${what} id`));
        if (e === undefined) fail(ErrorCode.NOT_FOUND, `no ${what} ${id ?? a.id}`);
        result = e;
        break;
      }
      case 'history':
        result = await q.resourceHistory(id ?? need(a, 'resource', 'resource id'), page);
        break;
      case 'grants':
        if (a.consumer) result = await q.activeGrants(a.consumer, num(a.at, 'at') ?? Date.now(), page);
        else if (a.resource) result = await q.grantsOfResource(a.resource, page);
        else
          result = await q.grantsOfScenario(
            need(a, 'scenario', 'give --consumer, --resource or --scenario'),
            page,
          );
        break;
      case 'logs':
        result = a.grant
          ? await q.accessLogs(a.grant, page)
          : await q.accessLogsOfResource(need(a, 'resource', 'give --grant or --resource'), page);
        break;
      case 'requests':
        result = await q.openRequests(need(a, 'provider', 'provider member id'), page);
        break;
      case 'records':
        result = await q.recordsByKind(need(a, 'kind', 'record kind'), page);
        break;
      default:
        return fail(ErrorCode.INVALID_ARGUMENT, `unknown query ${JSON.stringify(what)}`, {
          hint: 'run dirchain query --help',
        });
    }
    ctx.out(JSON.stringify(result, replacer, ctx.json ? undefined : 2));
    return EXIT.ok;
  } finally {
    await target.close();
  }
}

/** JSON for query output: bytes as base64, records as their decoded fields. */
function replacer(this: unknown, key: string, value: unknown): unknown {
  if (value instanceof Uint8Array || (value && (value as { type?: string }).type === 'Buffer')) {
    const bytes = value instanceof Uint8Array ? value : Uint8Array.from((value as { data: number[] }).data);
    return key === 'bytes' || key === 'signed' ? undefined : Buffer.from(bytes).toString('base64');
  }
  return value;
}
