/**
 * The messages of one group commit, gathered as they arrive and committed together
 * (`ReadingBuffer.appendGroup`). A reading is packed at once into its outbox columns, numbers in
 * one growing Float64Array, so what waits for the commit is no object of its own: a decoded
 * reading is about a dozen small heap objects (the object, its position, a boxed number per
 * meter, its strings), and kept until the commit they outlived V8's young-generation collections
 * and were copied twice, the largest part of the edge's garbage-collection time at full ingest.
 * Readings the columns cannot reproduce exactly (kept as JSON text) and quarantined messages
 * stay as items: the rare paths.
 */
import type { ForwardedReading } from '@ironledger/contracts';
import type { AppendItem } from './buffer.js';
import {
  decodeReading,
  type EncodedReading,
  PACKED_WIDTH,
  packReading,
  unpackReading,
} from './reading-codec.js';

const INITIAL_READINGS = 256;
/** Unit ids remembered for sharing (a fleet's units); beyond it the memory starts over. */
const UNIT_IDS_MAX = 10_000;
// One string per unit id, shared by every group: a packed reading then holds no string of its own.
const names = new Map<string, string>();

function shared(unitId: string): string {
  const known = names.get(unitId);
  if (known !== undefined) return known;
  if (names.size >= UNIT_IDS_MAX) names.clear();
  names.set(unitId, unitId);
  return unitId;
}

export class AppendGroup {
  private cols = new Float64Array(INITIAL_READINGS * PACKED_WIDTH);
  private unitIds: string[] = [];
  /** The items that are not packed, by index. */
  private items = new Map<number, AppendItem>();
  private count = 0;

  /** The group of `items`, in their order. */
  static of(items: readonly AppendItem[]): AppendGroup {
    const g = new AppendGroup();
    for (const it of items) g.add(it);
    return g;
  }

  get length(): number {
    return this.count;
  }

  add(item: AppendItem): void {
    if (item.kind === 'reading') this.addReading(item.reading);
    else this.items.set(this.count++, item);
  }

  addReading(r: ForwardedReading): void {
    const i = this.count;
    if ((i + 1) * PACKED_WIDTH > this.cols.length) {
      const grown = new Float64Array(this.cols.length * 2);
      grown.set(this.cols);
      this.cols = grown;
    }
    if (packReading(r, this.cols, i * PACKED_WIDTH)) this.unitIds[i] = shared(r.unitId);
    else this.items.set(i, { kind: 'reading', reading: r });
    this.count = i + 1;
  }

  /** The item at `i` when it is not a packed reading. */
  item(i: number): AppendItem | undefined {
    return this.items.get(i);
  }

  /** The unit id of the packed reading at `i`. */
  unitId(i: number): string {
    return this.unitIds[i]!;
  }

  /** The outbox columns of the packed reading at `i`. */
  columns(i: number, unitRef: number): EncodedReading {
    return unpackReading(this.cols, i * PACKED_WIDTH, unitRef);
  }

  /** The item at `i` as it was added (a packed reading decoded again: the rare paths). */
  at(i: number): AppendItem {
    return (
      this.items.get(i) ?? { kind: 'reading', reading: decodeReading(this.columns(i, 0), this.unitId(i)) }
    );
  }

  /** Empties the group for reuse; the columns' memory is kept. */
  clear(): void {
    this.count = 0;
    this.unitIds.length = 0;
    this.items.clear();
  }
}
