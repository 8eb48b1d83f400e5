/**
 * Contract 3, in: polls one maker's AEMP 2.0 feed and stores what it reads through the same
 * idempotent ingest as a gateway's batch, the feed being a virtual gateway (`feedId`).
 *
 * One poll: the fleet snapshot, page by page along `Links next` (an index page is passed
 * through), machines matched to units by serial number or PIN; then, per matched machine, each
 * element's time series from the machine's cursor to the snapshot's hour-meter time, joined
 * into readings and stored as one batch whose id is a hash of its content (the same window
 * read twice is a replay: nothing new is stored). Only after the store has committed is the
 * machine's cursor moved, by compare-and-set on the store's meta; a poller killed anywhere
 * resumes from the last committed cursor and at worst reads a window again. Feeds without
 * time series store the snapshot's readings instead.
 *
 * Quotas: a client-side budget (`quota.requests` per `quota.perS`) spaces requests; a 429
 * (or 503) waits its Retry-After and asks again; a wait longer than `maxRetryAfterS` ends the
 * poll as partial until the next one.
 */
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type AempEquipment,
  type AempFeedStatus,
  type AempHeader,
  type AempPoint,
  type AempReading,
  equipmentReadings,
  type ForwardedReading,
  ReadingSchema,
  readingContent,
  restrictToElements,
  type Unit,
} from '@ironledger/contracts';
import type { Logger } from '@ironledger/logger';
import { toIngestReading } from '../ingest/parse-batch.js';
import type { CloudStore, IngestResult } from '../store/store.js';
import type { AempFeedConfig } from './config.js';
import { AempFeedClient, AempFeedError, type FeedAnswer } from './feed-client.js';

export interface AempPollerDeps {
  feed: AempFeedConfig;
  store: CloudStore;
  /** The cloud's units now (matched by serial number / PIN). */
  units: () => Iterable<Unit>;
  logger: Logger;
  now: () => number;
  /** After a batch is stored (the consolidation runner is told by the store's dirty marks). */
  onStored?: (result: IngestResult) => void;
}

interface Cursor {
  v: 1;
  /** Per unit: the latest reading time read (ISO). */
  units: Record<string, string>;
}

class StopPoll extends Error {}

const MAX_UNMATCHED_LISTED = 50;

export class AempPoller {
  readonly client: AempFeedClient;
  private readonly feed: AempFeedConfig;
  private readonly log: Logger;
  private readonly abort = new AbortController();
  private loop: Promise<void> | null = null;
  private budget: { tokens: number; atMs: number };
  private s: AempFeedStatus;

  constructor(private readonly deps: AempPollerDeps) {
    this.feed = deps.feed;
    this.client = new AempFeedClient(deps.feed, { now: deps.now });
    this.log = deps.logger.child({ feedId: deps.feed.feedId });
    this.budget = { tokens: deps.feed.quota.requests, atMs: deps.now() };
    this.s = {
      feedId: deps.feed.feedId,
      url: deps.feed.url,
      dialect: deps.feed.dialect,
      state: 'idle',
      lastPollAt: null,
      lastPollOutcome: null,
      nextPollAt: null,
      quotaLeft: null,
      requests: 0,
      rateLimited: 0,
      errors: 0,
      lastError: null,
      equipment: 0,
      unmatched: [],
      readingsAccepted: 0,
      duplicates: 0,
      refused: 0,
      cursorTs: null,
    };
  }

  status(): AempFeedStatus {
    return { ...this.s, unmatched: [...this.s.unmatched] };
  }

  /** Polls now, then every `pollIntervalS`, until stopped. */
  start(): void {
    if (this.loop) return;
    this.loop = (async () => {
      while (!this.abort.signal.aborted) {
        await this.poll();
        const next = this.deps.now() + this.feed.pollIntervalS * 1000;
        this.s.nextPollAt = new Date(next).toISOString();
        try {
          await sleep(this.feed.pollIntervalS * 1000, undefined, { signal: this.abort.signal });
        } catch {
          break;
        }
      }
      this.s.state = 'stopped';
      this.s.nextPollAt = null;
    })();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }

  /** One poll; never throws (failures are counted, logged and shown in the status). */
  async poll(): Promise<AempFeedStatus['lastPollOutcome']> {
    const started = this.deps.now();
    this.s.state = 'polling';
    let outcome: AempFeedStatus['lastPollOutcome'] = 'ok';
    try {
      await this.pollOnce();
    } catch (e) {
      if (e instanceof StopPoll) outcome = this.abort.signal.aborted ? null : 'partial';
      else {
        outcome = 'failed';
        const code = e instanceof AempFeedError ? e.code : 'AEMP_POLL_FAILED';
        this.s.errors++;
        this.s.lastError = {
          at: new Date(this.deps.now()).toISOString(),
          code,
          message: (e as Error).message,
        };
        this.log.warn(
          { event: 'aemp.poll_failed', code, err: e },
          'feed poll failed; retried at the next poll',
        );
      }
    }
    if (outcome) {
      this.s.lastPollAt = new Date(started).toISOString();
      this.s.lastPollOutcome = outcome;
    }
    this.s.state = this.abort.signal.aborted ? 'stopped' : 'idle';
    return outcome;
  }

  private async pollOnce(): Promise<void> {
    const fleet = await this.readFleet();
    const byKey = this.unitIndex();
    const matched: Array<{ unitId: string; eq: AempEquipment }> = [];
    const unmatched: string[] = [];
    for (const eq of fleet) {
      const unitId = matchUnit(eq.header, byKey);
      if (unitId) matched.push({ unitId, eq });
      else
        unmatched.push(eq.header.SerialNumber ?? eq.header.PIN ?? eq.header.EquipmentID ?? '(unidentified)');
    }
    this.s.equipment = fleet.length;
    this.s.unmatched = unmatched.slice(0, MAX_UNMATCHED_LISTED);
    if (unmatched.length > 0)
      this.log.warn(
        { event: 'aemp.equipment_unmatched', count: unmatched.length, equipment: this.s.unmatched },
        'feed lists machines no unit matches by serial number or PIN',
      );
    for (const { unitId, eq } of matched) {
      if (this.feed.timeSeries && eq.header.EquipmentID) await this.readSeries(unitId, eq);
      else await this.storeReadings(unitId, eq, null);
    }
    this.log.info(
      { event: 'aemp.polled', equipment: fleet.length, matched: matched.length, unmatched: unmatched.length },
      'feed polled',
    );
  }

  /** Every machine of the fleet snapshot, all pages. */
  private async readFleet(): Promise<AempEquipment[]> {
    const out: AempEquipment[] = [];
    for await (const doc of this.pages(this.client.firstFleetPage())) {
      this.countRefused(doc.refused);
      out.push(...doc.equipment);
    }
    return out;
  }

  /** Pages of one listing along `Links next`, at most maxPages, never a page twice. */
  private async *pages(first: string) {
    const seen = new Set<string>();
    let url: string | null = first;
    while (url && seen.size < this.feed.maxPages) {
      seen.add(url);
      const doc = await this.fetch(url);
      yield doc;
      const next: string | null = doc.links.next ? this.client.follow(doc.links.next, url) : null;
      url = next && !seen.has(next) ? next : null;
    }
  }

  /** One GET within the budget; 429 waits Retry-After and asks again. */
  private async fetch(url: string) {
    for (;;) {
      await this.takeBudget();
      this.s.requests++;
      const a: FeedAnswer = await this.client.get(url);
      this.s.quotaLeft = a.quotaLeft ?? Math.floor(this.budget.tokens);
      if (a.kind === 'ok') return a.doc;
      this.s.rateLimited++;
      this.s.state = 'rate_limited';
      if (a.retryAfterMs > this.feed.maxRetryAfterS * 1000) {
        this.log.warn(
          { event: 'aemp.rate_limited', retryAfterMs: a.retryAfterMs, url },
          'feed asks to wait past maxRetryAfterS; the poll stops here and resumes next time',
        );
        throw new StopPoll();
      }
      this.log.info({ event: 'aemp.rate_limited', retryAfterMs: a.retryAfterMs, url }, 'feed quota: waiting');
      await this.wait(a.retryAfterMs);
      this.s.state = 'polling';
    }
  }

  private async takeBudget(): Promise<void> {
    const { requests, perS } = this.feed.quota;
    const ratePerMs = requests / (perS * 1000);
    for (;;) {
      const now = this.deps.now();
      this.budget.tokens = Math.min(requests, this.budget.tokens + (now - this.budget.atMs) * ratePerMs);
      this.budget.atMs = now;
      if (this.budget.tokens >= 1) {
        this.budget.tokens -= 1;
        return;
      }
      await this.wait(Math.ceil((1 - this.budget.tokens) / ratePerMs));
    }
  }

  private async wait(ms: number): Promise<void> {
    try {
      await sleep(ms, undefined, { signal: this.abort.signal });
    } catch {
      throw new StopPoll();
    }
  }

  /** Time series of every element from the unit's cursor to the snapshot's hour-meter time. */
  private async readSeries(unitId: string, snap: AempEquipment): Promise<void> {
    const hours = snap.points.CumulativeOperatingHours?.at(-1);
    if (!hours) {
      this.countRefused(equipmentReadings(snap, this.client.dialect).refused);
      return;
    }
    const endMs = Date.parse(hours.datetime);
    const cursor = await this.readCursor();
    const fromIso = cursor.units[unitId];
    const fromMs = fromIso ? Date.parse(fromIso) + 1 : endMs - this.feed.backfillHours * 3_600_000;
    if (fromMs > endMs) return; // nothing newer than what is stored
    const eq: AempEquipment = { header: snap.header, points: {} };
    const id = snap.header.EquipmentID as string;
    const from = new Date(fromMs).toISOString();
    const to = new Date(endMs).toISOString();
    for (const element of this.feed.elements) {
      const list: AempPoint[] = [];
      for await (const doc of this.pages(this.client.timeSeriesPage(id, element, from, to))) {
        this.countRefused(doc.refused);
        for (const e of doc.equipment) list.push(...((e.points[element] ?? []) as AempPoint[]));
      }
      (eq.points as Record<string, AempPoint[]>)[element] = list;
    }
    await this.storeReadings(unitId, eq, to);
  }

  /** Maps, stores as one content-addressed batch, then moves the unit's cursor (CAS). */
  private async storeReadings(unitId: string, eq: AempEquipment, cursorTo: string | null): Promise<void> {
    const mapped = equipmentReadings(eq, this.client.dialect);
    this.countRefused(mapped.refused);
    const nowMs = this.deps.now();
    const receivedAt = new Date(nowMs).toISOString();
    const readings: ForwardedReading[] = [];
    for (const r of mapped.readings) {
      const parsed = ReadingSchema.safeParse({
        ...restrictToElements(r as AempReading, this.feed.elements),
        unitId,
      });
      if (!parsed.success) {
        this.s.refused++;
        continue;
      }
      readings.push({ ...parsed.data, receivedAt, source: 'aemp' });
    }
    if (readings.length > 0) {
      const hash = createHash('sha256');
      for (const r of readings) hash.update(readingContent(r)).update('\n');
      const batchId = `aemp-${this.feed.feedId}-${hash.digest('hex').slice(0, 32)}`;
      const result = await this.deps.store.ingestBatch({
        gatewayId: this.feed.feedId,
        batchId,
        siteId: this.feed.siteId ?? null,
        storedAt: receivedAt,
        readings: readings.map((r) => toIngestReading(r, nowMs)),
      });
      if (result.kind === 'stored' || result.kind === 'replayed') {
        if (result.kind === 'stored') {
          this.s.readingsAccepted += result.accepted;
          this.s.duplicates += result.duplicates;
        } else this.s.duplicates += readings.length;
        this.log.info(
          {
            event: result.kind === 'stored' ? 'batch_stored' : 'batch_replayed',
            gatewayId: this.feed.feedId,
            batchId,
            unitId,
            ...result,
          },
          'feed readings stored',
        );
        this.deps.onStored?.(result);
      } else {
        throw new AempFeedError('AEMP_FEED_HTTP', `batch id ${batchId} is taken by ${result.byGatewayId}`);
      }
    }
    const last = cursorTo ?? readings.at(-1)?.ts;
    if (last) await this.advanceCursor(unitId, last);
  }

  private cursorKey(): string {
    return `aemp.cursor.${this.feed.feedId}`;
  }

  private async readCursor(): Promise<Cursor> {
    const raw = await this.deps.store.getMeta(this.cursorKey());
    return parseCursor(raw);
  }

  /** Moves one unit's cursor forward (never back), compare-and-set against a concurrent writer. */
  private async advanceCursor(unitId: string, ts: string): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const raw = await this.deps.store.getMeta(this.cursorKey());
      const c = parseCursor(raw);
      const prev = c.units[unitId];
      if (prev && prev >= ts) return;
      c.units[unitId] = ts;
      if (await this.deps.store.casMeta(this.cursorKey(), raw, JSON.stringify(c))) {
        const front = Object.values(c.units).sort().at(-1) ?? null;
        this.s.cursorTs = front;
        return;
      }
    }
    throw new AempFeedError('AEMP_FEED_HTTP', `cursor of ${unitId} kept changing under this poller`);
  }

  private unitIndex(): Map<string, string> {
    const m = new Map<string, string>();
    for (const u of this.deps.units()) if (u.serialNo) m.set(normaliseSerial(u.serialNo), u.unitId);
    return m;
  }

  private countRefused(list: ReadonlyArray<{ equipment: string; element: string; reason: string }>): void {
    if (list.length === 0) return;
    this.s.refused += list.length;
    this.log.info(
      { event: 'aemp.elements_refused', count: list.length, first: list.slice(0, 5) },
      'feed elements refused',
    );
  }
}

function parseCursor(raw: string | null): Cursor {
  if (!raw) return { v: 1, units: {} };
  try {
    const c = JSON.parse(raw) as Cursor;
    if (c && c.v === 1 && typeof c.units === 'object' && c.units !== null) return c;
  } catch {
    // fall through: an unreadable cursor starts over (reading again stores nothing twice)
  }
  return { v: 1, units: {} };
}

/** Serial numbers and PINs compare without case, spaces or dashes. */
export function normaliseSerial(s: string): string {
  return s.toUpperCase().replace(/[\s-]/g, '');
}

export function matchUnit(h: AempHeader, bySerial: Map<string, string>): string | null {
  for (const k of [h.SerialNumber, h.PIN]) {
    if (!k) continue;
    const u = bySerial.get(normaliseSerial(k));
    if (u) return u;
  }
  return null;
}
