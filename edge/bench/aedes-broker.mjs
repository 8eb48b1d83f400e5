#!/usr/bin/env node
// The fallback reference broker when Mosquitto is not installed: a bare aedes broker (the
// library the edge embeds), QoS 1 in memory, nothing stored, no subscriber, no validation.
// Prints {"event":"ready","mqttPort":N} once listening on 127.0.0.1.
// Usage: node edge/bench/aedes-broker.mjs (no options; the ingest bench starts it)

import net from 'node:net';
import { benchArgs } from '@ironledger/testkit';
import { Aedes } from 'aedes';

benchArgs(import.meta.url, {});

const broker = await Aedes.createBroker();
const server = net.createServer(broker.handle);
server.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ event: 'ready', mqttPort: server.address().port }));
});
process.on('SIGTERM', () => process.exit(0));
