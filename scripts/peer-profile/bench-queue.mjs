// What both BullMQ profiles share: the bench queue on a Redis of its own (flushed first), a
// connection to that Redis, the jobs it has left, and its CPU time. Copy it next to them (`cp scripts/peer-profile/*.mjs`).
import { Queue } from 'bullmq';
import IORedis from 'ioredis';

/** The `bench` queue on the Redis at 127.0.0.1:`port`, emptied, and a connection to it. */
export async function openBenchQueue(port) {
  const connection = { host: '127.0.0.1', port };
  const queue = new Queue('bench', { connection, defaultJobOptions: { removeOnComplete: true, removeOnFail: 1000 } });
  const redis = new IORedis(connection);
  await queue.waitUntilReady();
  await redis.flushall();
  return { queue, redis };
}

/** Waits `ms` milliseconds. */
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** One `INFO` section of `redis` as an object. */
export async function info(redis, section) {
  return Object.fromEntries(
    (await redis.info(section))
      .split('\r\n')
      .filter((line) => line.includes(':'))
      .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1)]),
  );
}

/** The CPU time `redis` has used so far (user + system, seconds). */
export async function redisCpu(redis) {
  const c = await info(redis, 'cpu');
  return Number(c.used_cpu_user) + Number(c.used_cpu_sys);
}

/** The jobs `queue` has not finished: waiting, active, delayed or held back. */
export async function jobsLeft(queue) {
  const c = await queue.getJobCounts('wait', 'active', 'delayed', 'prioritized', 'paused', 'waiting-children');
  return Object.values(c).reduce((a, b) => a + b, 0);
}
