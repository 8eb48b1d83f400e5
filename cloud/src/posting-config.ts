/**
 * The `posting` section of the cloud config. Its schema belongs to posting/ (PostingConfigSchema);
 * this slot accepts any mapping until that schema is wired in, so configs written today stay valid.
 */
import { z } from 'zod';

export const PostingConfigSlot = z.record(z.string(), z.unknown()).default({});
export type PostingConfigValue = z.output<typeof PostingConfigSlot>;
