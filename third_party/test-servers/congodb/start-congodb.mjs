// third_party/test-servers/congodb/start-congodb.mjs - starts CongoDB (the
// MongoDB-wire server inside @push.rocks/smartmongo 2.2.0) in memory on
// 127.0.0.1:PORT for netsec's tests, and stops on SIGTERM or SIGINT.
// Usage: node start-congodb.mjs PORT PACKAGE_DIR
// (PACKAGE_DIR: the unpacked `npm pack @push.rocks/smartmongo@2.2.0`).
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const port = Number(process.argv[2]);
const pkg = process.argv[3];
if (!Number.isInteger(port) || port <= 0 || port > 65535 || !pkg) {
  console.error('usage: node start-congodb.mjs PORT PACKAGE_DIR');
  process.exit(2);
}
const entry = pathToFileURL(path.resolve(pkg, 'dist_ts/congodb/index.js')).href;
const { CongoServer } = await import(entry);
const server = new CongoServer({ host: '127.0.0.1', port, storage: 'memory' });
await server.start();
console.log(`congodb listening on 127.0.0.1:${port}`);

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  try {
    await server.stop();
  } finally {
    process.exit(0);
  }
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
