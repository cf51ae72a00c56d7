// BullMQ under a steady load, the way `baton-bench --protocol steady` loads Baton: jobs
// scheduled at RATE per second for SECS seconds, added by 4 enqueuers (each adds the jobs
// already due, at most 500, in one `addBulk`), drained meanwhile by one worker process
// (concurrency 100, the peer benchmark's worker). Latency counts from each job's *scheduled*
// time to its start, as the worker's `lat` jobs record it, so a stall of the enqueuers shows.
// Run it from the peer benchmark's BullMQ directory (where `bullmq`, `ioredis` and `worker.mjs`
// are) against a Redis of its own, e.g.:
//
//   redis-server --port 6398 --save "" --appendonly no --daemonize yes
//   cp scripts/peer-profile/*.mjs /tmp/peers/bullmq/ && cd /tmp/peers/bullmq && \
//     REDIS_PORT=6398 RATE=20000 SECS=20 node bullmq-steady.mjs
//
// It flushes that Redis first. The last stdout line is JSON.
import { fork } from 'node:child_process';
import { jobsLeft, openBenchQueue, redisCpu, sleep } from './bench-queue.mjs';

const port = Number(process.env.REDIS_PORT);
const RATE = Number(process.env.RATE || 20000);
const SECS = Number(process.env.SECS || 20);
const ENQUEUERS = 4;
const BATCH = 500;
const { queue, redis } = await openBenchQueue(port);
// The clock worker.mjs reads (CLOCK_MONOTONIC, ms), one for every process.
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
const cpu = () => redisCpu(redis);
const remaining = () => jobsLeft(queue);

const worker = fork(new URL('./worker.mjs', import.meta.url), [], { env: { ...process.env, CONCURRENCY: '100' } });
await new Promise((ready) => worker.once('message', ready));
process.on('exit', () => worker.exitCode === null && worker.kill('SIGKILL'));

const total = Math.round(RATE * SECS);
const start = nowMs() + 100;
const due = (i) => start + (i * 1000) / RATE;
let next = 0; // the next job to add, shared by the enqueuers
let backlogMax = 0;
const enqueuer = async () => {
  while (next < total) {
    const wait = due(next) - nowMs();
    if (wait > 0) await sleep(Math.min(wait, 5));
    const jobs = [];
    while (next < total && jobs.length < BATCH && due(next) <= nowMs()) {
      jobs.push({ name: 'lat', data: { ts: due(next) } });
      next++;
    }
    if (jobs.length > 0) await queue.addBulk(jobs);
  }
};
const watch = async () => {
  while (next < total) {
    backlogMax = Math.max(backlogMax, await remaining());
    await sleep(100);
  }
};
const cpuBefore = await cpu();
await Promise.all([...Array(ENQUEUERS)].map(enqueuer).concat([watch()]));
const offered = total / ((nowMs() - start) / 1000);
while ((await redis.llen('bench:lat')) < total) await sleep(20);
const cpuAfter = await cpu();
worker.kill('SIGTERM');

const lats = (await redis.lrange('bench:lat', 0, -1)).map(Number).sort((a, b) => a - b);
const pct = (p) => lats[Math.min(lats.length - 1, Math.floor((p / 100) * lats.length))];
const r2 = (x) => Math.round(x * 100) / 100;
console.log(
  JSON.stringify({
    system: 'bullmq',
    mode: 'steady',
    offered_per_s: r2(offered),
    jobs: total,
    start_p50_ms: r2(pct(50)),
    start_p99_ms: r2(pct(99)),
    backlog_max: backlogMax,
    redis_cpu_us_per_job: Math.round(((cpuAfter - cpuBefore) * 1e6 / total) * 10) / 10,
  }),
);
await queue.close();
redis.disconnect();
