// failover_writer.js - server_failover.py's writer through ioredis's Sentinel support:
// SET w:<n> n then WAIT 1 1000, forever; prints "ack <n>" for each write a replica
// acknowledged and "err" for each error. Argument: the sentinels' ports, comma-separated.
// NODE_PATH must hold ioredis (server_failover.py installs it with npm).
const Redis = require("ioredis");

const ports = process.argv[2].split(",").map(Number);
const redis = new Redis({
  sentinels: ports.map((port) => ({ host: "127.0.0.1", port })),
  name: "m",
  commandTimeout: 1000,
  maxRetriesPerRequest: 0,
  enableOfflineQueue: false,
  retryStrategy: () => 100,
  sentinelRetryStrategy: () => 100,
});
redis.on("error", () => {});

async function main() {
  for (let n = 1; ; n++) {
    try {
      await redis.set(`w:${n}`, String(n));
      const acks = await redis.call("WAIT", 1, 1000);
      if (acks >= 1) process.stdout.write(`ack ${n}\n`);
    } catch (e) {
      process.stdout.write("err\n");
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
main();
