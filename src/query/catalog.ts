/**
 * An in-memory catalogue of every resource's latest version, for directory
 * search by department, theme, level, sharing type and text. Its size follows
 * the number of resources (tens of thousands), not the log length, and it is
 * rebuilt from the stored state at open. Pure.
 */

import type { ResourceEntity } from '../policy/entities.js';
import type { Sharing } from '../policy/schemas.js';

export interface ResourceFilter {
  /** Owner department (member id). */
  department?: string;
  theme?: string;
  /** Overall classification level, or a range. */
  level?: number | { min?: number; max?: number };
  sharing?: Sharing;
  /** `active` (default), `retired` or `any`. */
  status?: 'active' | 'retired' | 'any';
  /** Case-insensitive words that must all appear in the public text: title, description, theme, field names. */
  text?: string;
}

interface Entry {
  id: string;
  owner: string;
  theme: string;
  level: number;
  sharing: Sharing;
  status: 'active' | 'retired';
  text: string;
}

export class Catalog {
  readonly #entries = new Map<string, Entry>();
  /** The same entry objects in id order (re-sorted only when ids were added). */
  #sorted: Entry[] = [];
  #dirty = false;

  get size(): number {
    return this.#entries.size;
  }

  upsert(r: ResourceEntity): void {
    const next: Entry = {
      id: r.id,
      owner: r.owner,
      theme: r.theme,
      level: r.level,
      sharing: r.sharing,
      status: r.status,
      text: [r.title, r.description, r.theme, ...r.fields.map((f) => f.name)].join('\n').toLowerCase(),
    };
    const current = this.#entries.get(r.id);
    if (current === undefined) {
      this.#entries.set(r.id, next);
      this.#dirty = true;
    } else Object.assign(current, next); // the sorted array holds the same object
  }

  /** Ids matching `filter`, in id order, after `after`, at most `limit`. */
  search(filter: ResourceFilter, after: string | undefined, limit: number): { ids: string[]; more: boolean } {
    if (this.#dirty) {
      this.#sorted = [...this.#entries.values()].sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
      this.#dirty = false;
    }
    const words = (filter.text ?? '').toLowerCase().split(/\s+/).filter(Boolean);
    const status = filter.status ?? 'active';
    const lv = filter.level;
    const [min, max] = typeof lv === 'number' ? [lv, lv] : [lv?.min ?? 1, lv?.max ?? 4];
    let i = after === undefined ? 0 : upperBound(this.#sorted, after);
    const ids: string[] = [];
    for (; i < this.#sorted.length; i++) {
      const e = this.#sorted[i]!;
      if (filter.department !== undefined && e.owner !== filter.department) continue;
      if (filter.theme !== undefined && e.theme !== filter.theme) continue;
      if (filter.sharing !== undefined && e.sharing !== filter.sharing) continue;
      if (status !== 'any' && e.status !== status) continue;
      if (e.level < min || e.level > max) continue;
      if (words.length > 0 && !words.every((w) => e.text.includes(w))) continue;
      if (ids.length === limit) return { ids, more: true };
      ids.push(e.id);
    }
    return { ids, more: false };
  }
}

function upperBound(sorted: Entry[], key: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]!.id <= key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
