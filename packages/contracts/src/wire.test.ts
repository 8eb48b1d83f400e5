/** wire.ts answers as the schemas do: the zod-free check of an answer is held to BatchAnswerSchema. */
import { describe, expect, it } from 'vitest';
import { BatchAnswerSchema } from './batch.js';
import { readBatchAnswer } from './wire.js';

describe('readBatchAnswer', () => {
  const samples: unknown[] = [
    { batchId: 'gw-1:abc', accepted: 3, duplicates: 0 },
    { batchId: 'gw-1:abc:0-500', accepted: 0, duplicates: 500, conflicts: 2 },
    { batchId: 'gw-1:abc', accepted: 3, duplicates: 0, extra: 'ignored' },
    { batchId: 'gw-1:abc', accepted: 3 },
    { batchId: 'gw-1:abc', accepted: -1, duplicates: 0 },
    { batchId: 'gw-1:abc', accepted: 1.5, duplicates: 0 },
    { batchId: 'gw-1:abc', accepted: '3', duplicates: 0 },
    { batchId: 'gw-1:abc', accepted: 2 ** 53, duplicates: 0 },
    { batchId: 'gw-1:abc', accepted: Number.NaN, duplicates: 0 },
    { batchId: 'gw-1:abc', accepted: 1, duplicates: 0, conflicts: null },
    { batchId: 'gw 1', accepted: 1, duplicates: 0 },
    { batchId: '', accepted: 1, duplicates: 0 },
    { batchId: 'x'.repeat(129), accepted: 1, duplicates: 0 },
    { batchId: 7, accepted: 1, duplicates: 0 },
    [],
    null,
    'ok',
    42,
  ];

  it('accepts and rejects exactly what BatchAnswerSchema does, and returns the same answer', () => {
    for (const body of samples) {
      const zod = BatchAnswerSchema.safeParse(body);
      expect(readBatchAnswer(body), JSON.stringify(body)).toEqual(zod.success ? zod.data : null);
    }
  });
});
