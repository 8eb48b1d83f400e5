/**
 * The dry-run journal: a JSON Lines file, one line per allocation, holding the exact
 * JSON-RPC request(s) posting would send to Odoo. The API key is always the placeholder
 * `<api-key>`. Appends are idempotent by allocation key: a key already in the file is never
 * written again, so running a dry run twice leaves one line per allocation.
 *
 * Line format:
 *   {"ts","allocationKey","allocationId","call":{jsonrpc request},"followUp"?:[further requests]}
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

export const API_KEY_PLACEHOLDER = '<api-key>';

export interface JournalEntry {
  ts: string;
  allocationKey: string;
  allocationId: string;
  call: unknown;
  followUp?: unknown[];
}

export class DryRunJournal {
  readonly path: string;
  private keys: Set<string> | null = null;

  constructor(path: string) {
    this.path = resolve(path);
  }

  /** Keys already journalled, read from the file (a torn last line is ignored). */
  loadKeys(): Set<string> {
    const keys = new Set<string>();
    if (!existsSync(this.path)) return keys;
    for (const line of readFileSync(this.path, 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      try {
        const k = (JSON.parse(line) as { allocationKey?: unknown }).allocationKey;
        if (typeof k === 'string') keys.add(k);
      } catch {
        // A line cut short by a crash mid-append: its allocation was not recorded, so it
        // will be journalled again in full.
      }
    }
    this.keys = keys;
    return keys;
  }

  /** Every well-formed entry, in file order. */
  entries(): JournalEntry[] {
    if (!existsSync(this.path)) return [];
    const out: JournalEntry[] = [];
    for (const line of readFileSync(this.path, 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      try {
        out.push(JSON.parse(line) as JournalEntry);
      } catch {
        // torn line: see loadKeys
      }
    }
    return out;
  }

  has(key: string): boolean {
    return (this.keys ?? this.loadKeys()).has(key);
  }

  /** Appends the entries whose keys are new; returns the keys written. */
  append(entries: JournalEntry[]): string[] {
    const keys = this.loadKeys(); // re-read: another process may have appended
    const fresh = entries.filter((e) => !keys.has(e.allocationKey));
    if (fresh.length === 0) return [];
    mkdirSync(dirname(this.path), { recursive: true });
    // A leading newline guards against a torn last line from an earlier crash.
    const text = fresh.map((e) => JSON.stringify(e)).join('\n');
    appendFileSync(this.path, `${this.needsLeadingNewline() ? '\n' : ''}${text}\n`);
    for (const e of fresh) keys.add(e.allocationKey);
    return fresh.map((e) => e.allocationKey);
  }

  private needsLeadingNewline(): boolean {
    if (!existsSync(this.path)) return false;
    const buf = readFileSync(this.path);
    return buf.length > 0 && buf[buf.length - 1] !== 0x0a;
  }
}

/** The JSON-RPC body of `object.execute_kw`, as Odoo 16–19 accept it. */
export function executeKwRequest(
  db: string,
  uid: number | string,
  model: string,
  method: string,
  args: unknown[],
  kwargs: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    jsonrpc: '2.0',
    method: 'call',
    params: {
      service: 'object',
      method: 'execute_kw',
      args: [db, uid, API_KEY_PLACEHOLDER, model, method, args, kwargs],
    },
  };
}
