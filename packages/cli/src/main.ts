#!/usr/bin/env node
/**
 * `ironledger`: the only reader of process.argv, env and signals. Ctrl-C ends the process
 * with 130 unless a command has subscribed (post does, to stop after the batch in flight);
 * a second Ctrl-C always ends it.
 */
import { run } from './cli.js';
import type { Io } from './command.js';
import { EXIT } from './errors.js';

const interruptHandlers = new Set<() => void>();
let interrupts = 0;
process.on('SIGINT', () => {
  interrupts += 1;
  if (interruptHandlers.size === 0 || interrupts > 1) process.exit(EXIT.INTERRUPTED);
  for (const fn of interruptHandlers) fn();
});

// A closed pipe (`ironledger usage --csv | head`) is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(EXIT.OK);
    throw e;
  });
}

const io: Io = {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
  now: () => new Date(),
  onInterrupt(fn) {
    interruptHandlers.add(fn);
    return () => interruptHandlers.delete(fn);
  },
};

const code = await run(process.argv.slice(2), io);
// Let buffered output reach a pipe before exiting (keep-alive sockets would otherwise hold the loop).
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
