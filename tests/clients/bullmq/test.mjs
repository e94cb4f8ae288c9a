// BullMQ acceptance: drives the real BullMQ package against the server on
// 127.0.0.1:$REDIS_PORT and exits non-zero on the first failed expectation.
// Run by tests/bullmq.rs against ferrokv (and, as a check of the test
// itself, against redis-server).

import assert from 'node:assert/strict';
import { Queue, QueueEvents, Worker } from 'bullmq';

const port = Number(process.env.REDIS_PORT);
assert.ok(port > 0, 'REDIS_PORT must be set');
const connection = { host: '127.0.0.1', port };
const prefix = `accept${process.pid}`;
const opened = [];

function open(thing) {
  opened.push(thing);
  return thing;
}

async function withQueue(name, body) {
  const queue = open(new Queue(name, { connection, prefix }));
  const events = open(new QueueEvents(name, { connection, prefix }));
  await events.waitUntilReady();
  await body(queue, events);
}

// getJobCounts adds states of its own (`paused` with `waiting`).
function only(counts, names) {
  return Object.fromEntries(names.map((n) => [n, counts[n]]));
}

function step(label) {
  console.log(`bullmq: ${label}`);
}

async function jobCompletesWithItsValue() {
  await withQueue('add', async (queue, events) => {
    const completed = new Promise((resolve) => events.on('completed', resolve));
    open(new Worker('add', async (job) => job.data.a + job.data.b, { connection, prefix }));
    const job = await queue.add('sum', { a: 2, b: 40 });
    assert.equal(await job.waitUntilFinished(events, 10_000), 42);
    const event = await completed;
    assert.equal(event.jobId, job.id);
    assert.equal(String(event.returnvalue), '42');
    const counts = await queue.getJobCounts('completed', 'failed', 'waiting', 'active', 'delayed');
    assert.deepEqual(only(counts, ['completed', 'failed', 'waiting', 'active', 'delayed']), {
      completed: 1,
      failed: 0,
      waiting: 0,
      active: 0,
      delayed: 0,
    });
  });
  step('a job completes and waitUntilFinished returns its value');
}

async function delayedJobWaitsForItsDelay() {
  await withQueue('delayed', async (queue, events) => {
    const started = Date.now();
    const job = await queue.add('later', {}, { delay: 700 });
    const counts = await queue.getJobCounts('delayed', 'waiting');
    assert.deepEqual(only(counts, ['delayed', 'waiting']), { delayed: 1, waiting: 0 });
    open(new Worker('delayed', async () => Date.now(), { connection, prefix }));
    const ranAt = await job.waitUntilFinished(events, 10_000);
    assert.ok(ranAt - started >= 650, `ran after ${ranAt - started} ms`);
  });
  step('a delayed job runs after its delay');
}

async function failingJobRetriesThenFails() {
  await withQueue('flaky', async (queue, events) => {
    let attempts = 0;
    const failedEvents = [];
    events.on('failed', (event) => failedEvents.push(event));
    open(
      new Worker(
        'flaky',
        async () => {
          attempts += 1;
          throw new Error(`boom ${attempts}`);
        },
        { connection, prefix },
      ),
    );
    const job = await queue.add('fail', {}, { attempts: 3, backoff: { type: 'fixed', delay: 100 } });
    await assert.rejects(job.waitUntilFinished(events, 15_000), /boom 3/);
    assert.equal(attempts, 3);
    const stored = await queue.getJob(job.id);
    assert.equal(stored.attemptsMade, 3);
    assert.equal(stored.failedReason, 'boom 3');
    assert.equal(await queue.getJobCounts('failed').then((c) => c.failed), 1);
    const deadline = Date.now() + 5_000;
    while (!failedEvents.some((e) => e.jobId === job.id) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(failedEvents.some((e) => e.jobId === job.id), 'QueueEvents saw the failure');
  });
  step('a failing job retries with backoff, ends failed, and QueueEvents sees it');
}

async function repeatableJobRunsOnSchedule() {
  await withQueue('repeat', async (queue) => {
    const runs = [];
    const done = new Promise((resolve) => {
      open(
        new Worker(
          'repeat',
          async () => {
            runs.push(Date.now());
            if (runs.length === 3) resolve();
          },
          { connection, prefix },
        ),
      );
    });
    await queue.add('tick', {}, { repeat: { every: 300, limit: 3 } });
    await Promise.race([
      done,
      new Promise((_, reject) => setTimeout(() => reject(new Error(`only ${runs.length} runs`)), 10_000)),
    ]);
    assert.equal(runs.length, 3);
    assert.ok(runs[2] - runs[0] >= 450, `three runs within ${runs[2] - runs[0]} ms`);
  });
  step('a repeatable job runs on schedule');
}

async function main() {
  const watchdog = setTimeout(() => {
    console.error('bullmq: timed out');
    process.exit(2);
  }, 60_000);
  try {
    await jobCompletesWithItsValue();
    await delayedJobWaitsForItsDelay();
    await failingJobRetriesThenFails();
    await repeatableJobRunsOnSchedule();
  } finally {
    for (const thing of opened.reverse()) {
      await thing.close().catch(() => {});
    }
    clearTimeout(watchdog);
  }
  console.log('bullmq: all passed');
}

main().catch((error) => {
  console.error('bullmq: FAILED', error);
  process.exit(1);
});
