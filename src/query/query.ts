/**
 * Read queries over the directory: entity lookups, directory search, version
 * history, grants and access logs, need lists. Every list is paginated with an
 * opaque cursor, and every result carries the record index it came from, so
 * the caller can ask the ledger for its inclusion proof.
 */
import { fromBase64, fromUtf8, show, toBase64, utf8 } from '../crypto/bytes.js';
import { decodeBlockEntry, isBlockEntry } from '../encoding/block-entry.js';
import { decodeEvent, eventRecord, isEventEntry, parseBatchBody } from '../encoding/event.js';
import { decodeRecord, type LedgerRecord } from '../encoding/record.js';
import { ErrorCode, fail } from '../errors.js';
import type {
  EntityType,
  EntityTypes,
  GrantEntity,
  RequestEntity,
  ResourceEntity,
  StateView,
} from '../policy/entities.js';
import { indexPrefix, trailingId, trailingNumber } from '../storage/index-table.js';
import type { LedgerStore } from '../storage/store.js';
import type { Catalog, ResourceFilter } from './catalog.js';

export interface PageOptions {
  /** At most this many items (default 100, max 1000). */
  limit?: number;
  /** The `cursor` of the previous page. */
  cursor?: string;
}

export interface Page<T> {
  items: T[];
  /** Pass to the next call for the next page; absent on the last page. */
  cursor?: string;
}

/** A record found through an index, with its position in the log. */
export interface IndexedRecord {
  index: number;
  /** For an event of a batch: the event as a record of its seal's kind, author and time. */
  record: LedgerRecord;
  /** For an event of a batch: the index of the seal that signs it. */
  seal?: number;
}

/** The record at `index`; an event comes back as a record of its seal (see `eventRecord`). */
export function recordAt(
  store: { checkedEntry(index: number): Uint8Array | undefined },
  index: number,
): IndexedRecord {
  const entry = store.checkedEntry(index);
  if (entry === undefined)
    fail(ErrorCode.LEDGER_CORRUPT, `index points at missing record ${index}`, { index });
  if (isBlockEntry(entry)) {
    fail(
      ErrorCode.NOT_FOUND,
      `entry ${index} is the block entry of block ${decodeBlockEntry(entry).height}, not a record`,
      {
        index,
        hint: 'read it with getEntry; every block ends with one',
      },
    );
  }
  if (!isEventEntry(entry)) return { index, record: decodeRecord(entry) };
  const event = decodeEvent(entry);
  const seal = index - 1 - event.position;
  const sealEntry = store.checkedEntry(seal);
  if (sealEntry === undefined)
    fail(ErrorCode.LEDGER_CORRUPT, `the seal of event ${index} is missing`, { index });
  const sealRecord = decodeRecord(sealEntry);
  return { index, seal, record: eventRecord(sealRecord, parseBatchBody(sealRecord.body).kind, event) };
}

const ENTITY_TYPES: readonly string[] = ['member', 'resource', 'scenario', 'request', 'grant'];

/** A query argument that names something: a non-empty string (E_INVALID_ARGUMENT otherwise). */
function checkId(v: unknown, what: string): asserts v is string {
  if (typeof v !== 'string' || v.length === 0 || v.length > 1024)
    fail(ErrorCode.INVALID_ARGUMENT, `${what} must be a non-empty string, got ${show(v)}`);
}

/** Page options: absent, or an object with an optional whole `limit` and string `cursor`. */
function checkPage(p: unknown): asserts p is PageOptions {
  if (typeof p !== 'object' || p === null || Array.isArray(p))
    fail(ErrorCode.INVALID_ARGUMENT, `page options must be an object ({ limit?, cursor? }), got ${show(p)}`);
  const { cursor } = p as PageOptions;
  if (cursor !== undefined && typeof cursor !== 'string')
    fail(ErrorCode.INVALID_ARGUMENT, `cursor must be a string this API returned, got ${show(cursor)}`);
}

function checkFilter(f: unknown): asserts f is ResourceFilter {
  if (typeof f !== 'object' || f === null || Array.isArray(f))
    fail(ErrorCode.INVALID_ARGUMENT, `a resource filter must be an object, got ${show(f)}`);
  const o = f as Record<string, unknown>;
  for (const k of ['department', 'theme', 'sharing', 'status', 'text']) {
    if (o[k] !== undefined && typeof o[k] !== 'string')
      fail(ErrorCode.INVALID_ARGUMENT, `filter.${k} must be a string, got ${show(o[k])}`);
  }
  const lv = o.level;
  const isLevel = (x: unknown) => x === undefined || Number.isSafeInteger(x);
  const ok =
    isLevel(lv) ||
    (typeof lv === 'object' &&
      lv !== null &&
      isLevel((lv as { min?: unknown }).min) &&
      isLevel((lv as { max?: unknown }).max));
  if (!ok)
    fail(ErrorCode.INVALID_ARGUMENT, `filter.level must be a level or { min?, max? }, got ${show(lv)}`);
}

function limitOf(p: PageOptions): number {
  checkPage(p);
  const limit = p.limit ?? 100;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > 1000)
    fail(ErrorCode.INVALID_ARGUMENT, 'limit must be 1..1000');
  return limit;
}

function cursorKey(p: PageOptions): Uint8Array | undefined {
  if (p.cursor === undefined) return undefined;
  try {
    return fromBase64(p.cursor);
  } catch {
    return fail(ErrorCode.INVALID_ARGUMENT, 'cursor is not one this API returned');
  }
}

/** The key a page starts after, from its cursor; the cursor must be one this query (`prefix`) returned. */
function afterKey(prefix: Uint8Array, p: PageOptions): Uint8Array | undefined {
  const after = cursorKey(p);
  if (after !== undefined && !startsWith(after, prefix)) {
    fail(ErrorCode.INVALID_ARGUMENT, 'cursor belongs to another query', {
      hint: 'pass the cursor back to the query that returned it',
    });
  }
  return after;
}

export class DirectoryQuery {
  readonly #store: LedgerStore;
  readonly #view: StateView;
  readonly #catalog: Catalog;

  constructor(store: LedgerStore, view: StateView, catalog: Catalog) {
    this.#store = store;
    this.#view = view;
    this.#catalog = catalog;
  }

  get<T extends EntityType>(type: T, id: string): EntityTypes[T] | undefined {
    if (!ENTITY_TYPES.includes(type))
      fail(ErrorCode.INVALID_ARGUMENT, `type must be one of ${ENTITY_TYPES.join(', ')}, got ${show(type)}`);
    checkId(id, `${type} id`);
    return this.#view.get(type, id);
  }

  /** Directory search over the latest version of every resource. */
  searchResources(filter: ResourceFilter = {}, page: PageOptions = {}): Page<ResourceEntity> {
    checkFilter(filter);
    checkPage(page);
    const { ids, more } = this.#catalog.search(filter, page.cursor, limitOf(page));
    const items = ids.map((id) => this.#view.get('resource', id)!);
    return more ? { items, cursor: ids.at(-1)! } : { items };
  }

  /** Resources a department owns (through the LevelDB index). */
  async resourcesOf(department: string, page: PageOptions = {}): Promise<Page<ResourceEntity>> {
    checkId(department, 'department');
    const prefix = indexPrefix('d', department);
    return this.#scan(prefix, page, (k) => this.#view.get('resource', trailingId(k, prefix.length)));
  }

  /** Every version (register, updates, retirement) of a resource, oldest first. */
  async resourceHistory(resource: string, page: PageOptions = {}): Promise<Page<IndexedRecord>> {
    checkId(resource, 'resource id');
    return this.#scan(indexPrefix('r', resource), page, (k) => this.#record(trailingNumber(k)));
  }

  /**
   * Grants of `consumer` live at time `at` (ms): inside the window [validFrom,
   * validTo) and not yet revoked then, on a resource that is not retired, for
   * a consumer that is active — as of the latest durable block, the state the
   * access rules judge a use by (they refuse the others: E_RESOURCE_RETIRED,
   * E_MEMBER_INACTIVE).
   */
  async activeGrants(consumer: string, at: number, page: PageOptions = {}): Promise<Page<GrantEntity>> {
    checkId(consumer, 'consumer');
    if (!Number.isSafeInteger(at))
      fail(ErrorCode.INVALID_ARGUMENT, `at must be a time in milliseconds since the epoch, got ${show(at)}`);
    const prefix = indexPrefix('c', consumer);
    if (this.#view.get('member', consumer)?.status !== 'active') {
      // A suspended or removed consumer (or none) can use no grant; the page options are still checked.
      limitOf(page);
      afterKey(prefix, page);
      return { items: [] };
    }
    return this.#scan(prefix, page, (k) => {
      const g = this.#view.get('grant', trailingId(k, prefix.length));
      const live =
        g !== undefined &&
        g.validFrom <= at &&
        at < g.validTo &&
        (g.revokedAt === null || g.revokedAt > at) &&
        this.#view.get('resource', g.resource)?.status === 'active';
      return live ? g : undefined;
    });
  }

  async grantsOfResource(resource: string, page: PageOptions = {}): Promise<Page<GrantEntity>> {
    checkId(resource, 'resource id');
    const prefix = indexPrefix('G', resource);
    return this.#scan(prefix, page, (k) => this.#view.get('grant', trailingId(k, prefix.length)));
  }

  async grantsOfScenario(scenario: string, page: PageOptions = {}): Promise<Page<GrantEntity>> {
    checkId(scenario, 'scenario id');
    const prefix = indexPrefix('s', scenario);
    return this.#scan(prefix, page, (k) => this.#view.get('grant', trailingId(k, prefix.length)));
  }

  /** Access logs under a grant, in log order. */
  async accessLogs(grant: string, page: PageOptions = {}): Promise<Page<IndexedRecord>> {
    checkId(grant, 'grant id');
    return this.#scan(indexPrefix('g', grant), page, (k) => this.#record(trailingNumber(k)));
  }

  /** Access logs under every grant of a resource, grant by grant. */
  async accessLogsOfResource(
    resource: string,
    page: PageOptions = {},
  ): Promise<Page<IndexedRecord & { grant: string }>> {
    checkId(resource, 'resource id');
    const limit = limitOf(page);
    let [grant, logCursor] = page.cursor === undefined ? [] : decodeCursor(page.cursor);
    // A resource has few grants (hundreds at most): list them whole, page through their logs.
    const prefix = indexPrefix('G', resource);
    const grants: string[] = [];
    for await (const [k] of this.#store.scan(prefix)) grants.push(trailingId(k, prefix.length));
    const items: Array<IndexedRecord & { grant: string }> = [];
    for (let i = grant === undefined ? 0 : grants.indexOf(grant); i >= 0 && i < grants.length; i++) {
      grant = grants[i]!;
      const logs = await this.accessLogs(grant, {
        limit: limit - items.length,
        ...(logCursor ? { cursor: logCursor } : {}),
      });
      logCursor = undefined;
      for (const l of logs.items) items.push({ ...l, grant });
      if (logs.cursor !== undefined) return { items, cursor: encodeCursor([grant, logs.cursor]) };
      if (items.length === limit)
        return i + 1 < grants.length ? { items, cursor: encodeCursor([grants[i + 1]!]) } : { items };
    }
    return { items };
  }

  /** Need-list requests still open for `provider`. */
  async openRequests(provider: string, page: PageOptions = {}): Promise<Page<RequestEntity>> {
    checkId(provider, 'provider id');
    const prefix = indexPrefix('p', provider);
    return this.#scan(prefix, page, (k) => {
      const r = this.#view.get('request', trailingId(k, prefix.length));
      return r?.status === 'open' ? r : undefined;
    });
  }

  /** Records of a kind (all but access.log) by block time, oldest first. */
  async recordsByKind(kind: string, page: PageOptions = {}): Promise<Page<IndexedRecord>> {
    checkId(kind, 'kind');
    return this.#scan(indexPrefix('k', kind), page, (k) => this.#record(trailingNumber(k)));
  }

  #record(index: number): IndexedRecord {
    return recordAt(this.#store, index);
  }

  /** Walks an index prefix from the cursor, mapping keys to items and skipping undefined ones. */
  async #scan<T>(
    prefix: Uint8Array,
    page: PageOptions,
    map: (key: Uint8Array) => T | undefined,
  ): Promise<Page<T>> {
    const limit = limitOf(page);
    const after = afterKey(prefix, page);
    const items: T[] = [];
    let last = after;
    // Read in chunks of limit + 1 keys: an unbounded iterator reads ahead far past one page.
    const chunk = limit + 1;
    for (;;) {
      let seen = 0;
      for await (const [k] of this.#store.scan(prefix, { ...(last ? { after: last } : {}), limit: chunk })) {
        seen++;
        if (items.length === limit) return { items, cursor: toBase64(last!) };
        const item = map(k);
        last = k;
        if (item !== undefined) items.push(item);
      }
      if (seen < chunk) return { items };
    }
  }
}

function startsWith(key: Uint8Array, prefix: Uint8Array): boolean {
  if (key.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (key[i] !== prefix[i]) return false;
  return true;
}

function encodeCursor(parts: [string, string?]): string {
  return toBase64(utf8(JSON.stringify(parts)));
}

function decodeCursor(cursor: string): [string?, string?] {
  try {
    const v = JSON.parse(fromUtf8(fromBase64(cursor)));
    if (Array.isArray(v) && Array.from(v).every((x) => typeof x === 'string')) return v as [string, string?];
  } catch {}
  return fail(ErrorCode.INVALID_ARGUMENT, 'cursor is not one this API returned');
}
