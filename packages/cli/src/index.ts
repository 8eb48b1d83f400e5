/** The CLI as a library: the dispatcher (for embedding and tests) and its pure helpers. */
export { run, VERSION } from './cli.js';
export type { Io } from './command.js';
export { ApiError, CliError, EXIT, UsageError } from './errors.js';
export { formatMinorAmount, formatMoney } from './format/money.js';
export type { ReportData } from './report/aggregate.js';
export { renderReport } from './report/render.js';
