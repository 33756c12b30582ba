// s3rver in its own process for test/helpers/s3.ts. It runs with
// --openssl-legacy-provider because s3rver's ListObjectsV2 continuation
// tokens use DES, which Node 20's OpenSSL 3 only has in the legacy provider.
// argv: <directory> <bucket>...; prints {"port":N} on stdout once listening;
// exits when its stdin closes.
const S3rver = require('s3rver');

const [directory, ...buckets] = process.argv.slice(2);
const server = new S3rver({ address: '127.0.0.1', port: 0, directory, silent: true, configureBuckets: buckets.map((name) => ({ name })) });
server.run().then((addr) => {
  process.stdout.write(`${JSON.stringify({ port: addr.port })}\n`);
}, (err) => {
  process.stderr.write(`s3rver did not start: ${err.stack || err}\n`);
  process.exit(1);
});
process.on('SIGTERM', () => { server.close().finally(() => process.exit(0)); });
// the test process holds our stdin: when it ends (even by kill -9), so do we, leaving no server behind
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
