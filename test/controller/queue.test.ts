// The controller's work queue: de-duplication, one worker per key, backoff, shut down.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { WorkQueue } from "../../src/controller/queue.ts";

test("a key waits once, however often it is added", async () => {
  const q = new WorkQueue();
  for (const k of ["a", "b", "a", "a", "b"]) q.add(k);
  assert.equal(q.depth, 2);
  assert.equal(await q.take(), "a");
  assert.equal(await q.take(), "b");
  assert.equal(q.depth, 0);
});

test("a key added while it is processed comes back once, after done", async () => {
  const q = new WorkQueue();
  q.add("a");
  const k = await q.take();
  q.add("a");
  q.add("a");
  assert.equal(q.depth, 0, "not handed to a second worker");
  q.done(k as string);
  assert.equal(q.depth, 1);
  assert.equal(await q.take(), "a");
});

test("a waiting taker gets the next key", async () => {
  const q = new WorkQueue();
  const p = q.take();
  q.add("x");
  assert.equal(await p, "x");
  assert.equal(q.busy, 1);
});

test("retries back off per key, at least a Retry-After, and forget resets them", () => {
  const q = new WorkQueue({ baseDelayMs: 100, maxDelayMs: 1000 });
  assert.equal(q.retry("a"), 100);
  assert.equal(q.retry("a"), 200);
  assert.equal(q.retry("a"), 400);
  assert.equal(q.retry("b", 700), 700, "the server's Retry-After wins over a shorter backoff");
  assert.equal(q.retry("c", 99_999), 1000, "capped");
  q.forget("a");
  assert.equal(q.retry("a"), 100);
  q.shutDown();
});

test("a delayed key comes back after its delay; adding it sooner takes it at once", async () => {
  // The queue's timers are unref'd (a controller's sockets keep it alive): here nothing else would, and
  // the test would end before the delay does.
  const alive = setInterval(() => {}, 1000);
  after(() => clearInterval(alive));
  const q = new WorkQueue({ baseDelayMs: 20 });
  q.retry("a");
  assert.equal(q.depth, 0);
  assert.equal(q.delayed, 1);
  assert.equal(await q.take(), "a");
  q.done("a");
  q.addAfter("b", 60_000);
  q.add("b");
  assert.equal(q.delayed, 0);
  assert.equal(await q.take(), "b");
  q.shutDown();
});

test("shut down: waiting keys are still handed out, then takers get undefined", async () => {
  const q = new WorkQueue();
  q.add("a");
  q.shutDown();
  q.add("b");
  assert.equal(await q.take(), "a");
  assert.equal(await q.take(), undefined);
  const idle = new WorkQueue();
  const p = idle.take();
  idle.shutDown();
  assert.equal(await p, undefined);
});

test("interrupt wakes waiting takers with undefined and keeps the queue open", async () => {
  const q = new WorkQueue();
  const a = q.take();
  const b = q.take();
  q.interrupt();
  assert.equal(await a, undefined);
  assert.equal(await b, undefined);
  q.add("k");
  assert.equal(await q.take(), "k", "a key added later goes to a live taker, not to an interrupted one");
});
