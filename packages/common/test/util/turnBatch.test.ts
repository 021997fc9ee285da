import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { TurnBatch } from "../../src/util/turnBatch.ts";

/** Hands `items` over from separate callbacks of one event-loop phase (as I/O callbacks of one poll are). */
function fromSeparateCallbacks(batch: TurnBatch<number>, items: number[]): Promise<void> {
  return new Promise((resolve) => {
    for (const i of items) setImmediate(() => batch.add(i));
    // Runs in the next loop iteration, after any flush the phase scheduled.
    setImmediate(() => setImmediate(() => setImmediate(resolve)));
  });
}

describe("TurnBatch", () => {
  it('"turn": what one synchronous run hands over is flushed as one list, in order', async () => {
    const flushed: number[][] = [];
    const batch = new TurnBatch<number>((all) => flushed.push(all));
    for (const i of [1, 2, 3]) batch.add(i);
    await Promise.resolve();
    assert.deepEqual(flushed, [[1, 2, 3]]);
    await fromSeparateCallbacks(batch, [4, 5]);
    assert.deepEqual(flushed, [[1, 2, 3], [4], [5]]);
  });

  it('"phase": what separate callbacks of one phase hand over is flushed as one list, marked lone', async () => {
    const flushed: [number[], boolean][] = [];
    const batch = new TurnBatch<number>((all, lone) => flushed.push([all, lone]), "phase");
    await fromSeparateCallbacks(batch, [1, 2, 3]);
    assert.deepEqual(flushed, [[[1, 2, 3], true]]);
    await fromSeparateCallbacks(batch, [4]);
    assert.deepEqual(flushed, [
      [[1, 2, 3], true],
      [[4], true],
    ]);
  });

  it('"phase": several items handed over in one turn are flushed at the end of that turn, not lone', async () => {
    const flushed: [number[], boolean][] = [];
    const batch = new TurnBatch<number>((all, lone) => flushed.push([all, lone]), "phase");
    for (const i of [1, 2, 3]) batch.add(i);
    await Promise.resolve();
    assert.deepEqual(flushed, [[[1, 2, 3], false]]);
  });

  it("take() empties what is waiting, so it is not flushed", async () => {
    const flushed: number[][] = [];
    const batch = new TurnBatch<number>((all) => flushed.push(all), "phase");
    batch.add(1);
    assert.deepEqual(batch.take(), [1]);
    await fromSeparateCallbacks(batch, []);
    assert.deepEqual(flushed, [[]]);
  });
});
