// BullMQ's Redis costs measured the way `baton-bench --protocol peers` measures Baton's:
// Redis `used_memory` per queued job after `addBulk` of N jobs in chunks of 1,000, then Redis
// CPU time and `INFO commandstats` per job while one worker process (concurrency 100, the peer
// benchmark's worker) drains them. Run it from the peer benchmark's BullMQ directory (where
// `bullmq` and `ioredis` are installed) against a Redis of its own, e.g.:
//
//   redis-server --port 6398 --save "" --appendonly no --daemonize yes
//   cp scripts/peer-profile/*.mjs /tmp/peers/bullmq/ && cd /tmp/peers/bullmq && \
//     REDIS_PORT=6398 node bullmq.mjs
//
// It flushes that Redis first. The last stdout line is JSON.
import { fork } from 'node:child_process';
import { info, jobsLeft, openBenchQueue, redisCpu, sleep } from './bench-queue.mjs';

const port = Number(process.env.REDIS_PORT);
const N = Number(process.env.N || 50000);
const CHUNK = Number(process.env.BULK_CHUNK || 1000);
const { queue, redis } = await openBenchQueue(port);
const cpu = () => redisCpu(redis);
const commands = async () => {
  const out = {};
  for (const [name, value] of Object.entries(await info(redis, 'commandstats'))) {
    const fields = Object.fromEntries(value.split(',').map((pair) => pair.split('=')));
    out[name.replace('cmdstat_', '')] = { calls: Number(fields.calls), usec: Number(fields.usec) };
  }
  return out;
};
const remaining = () => jobsLeft(queue);

const memoryBefore = Number((await info(redis, 'memory')).used_memory);
for (let i = 0; i < N; i += CHUNK) {
  const jobs = [];
  for (let j = i; j < Math.min(N, i + CHUNK); j++) jobs.push({ name: 'noop', data: { i: j } });
  await queue.addBulk(jobs);
}
const memoryAfter = Number((await info(redis, 'memory')).used_memory);

const cpuBefore = await cpu();
const commandsBefore = await commands();
const t0 = performance.now();
const worker = fork(new URL('./worker.mjs', import.meta.url), [], { env: { ...process.env, CONCURRENCY: '100' } });
while ((await remaining()) > 0) await sleep(20);
const elapsed = (performance.now() - t0) / 1000;
const cpuAfter = await cpu();
const commandsAfter = await commands();
worker.kill('SIGTERM');

const profile = Object.entries(commandsAfter)
  .map(([name, cost]) => {
    const old = commandsBefore[name] || { calls: 0, usec: 0 };
    return [name, (cost.calls - old.calls) / N, (cost.usec - old.usec) / N];
  })
  .filter(([, calls]) => calls > 0)
  .sort((a, b) => b[2] - a[2]);
for (const [name, calls, usec] of profile) {
  console.error(`${name.padEnd(16)} ${calls.toFixed(3).padStart(8)} calls/job ${usec.toFixed(2).padStart(8)} us/job`);
}
console.log(
  JSON.stringify({
    system: 'bullmq',
    n: N,
    redis_bytes_per_queued_job: Math.round(((memoryAfter - memoryBefore) / N) * 100) / 100,
    redis_cpu_us_per_job: Math.round(((cpuAfter - cpuBefore) * 1e6 / N) * 10) / 10,
    drain_secs_with_worker_boot: Math.round(elapsed * 100) / 100,
  }),
);
await queue.close();
redis.disconnect();
