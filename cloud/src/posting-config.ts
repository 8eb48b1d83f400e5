/** The `posting` section of the cloud config: the posting module's own schema, defaults applied. */
import { PostingConfigSchema } from './posting/config.js';

export const PostingConfigSlot = PostingConfigSchema.prefault({});
