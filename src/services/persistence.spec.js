import { describe, expect, it } from 'vitest';
import { createPersistence } from './persistence.js';

/** A draft store whose writes wait until released, recording what each wrote. */
function slowDrafts() {
  const written = [];
  const waiting = [];
  return {
    written,
    release: () => waiting.splice(0).forEach((go) => go()),
    put: (draft) =>
      new Promise((resolve) => {
        waiting.push(() => {
          written.push([draft.key, draft.localRev]);
          resolve();
        });
      }),
  };
}

const draft = (key, localRev) => ({ key, localRev, strokes: [] });
const tick = () => new Promise((r) => setTimeout(r, 0));

describe('persistence', () => {
  it('writes one draft at a time, then the latest state of each draft changed meanwhile', async () => {
    const drafts = slowDrafts();
    const persistence = createPersistence({ drafts });
    const done = persistence.save(draft('a', 1));
    persistence.save(draft('a', 2));
    persistence.save(draft('b', 1));
    persistence.save(draft('a', 3)); // a's latest state wins over the 2 still waiting
    for (let k = 0; k < 3; k++) {
      await tick();
      drafts.release();
    }
    await done;
    expect(drafts.written).toEqual([['a', 1], ['a', 3], ['b', 1]]);
  });

  it('reports a failed write and goes on with the next', async () => {
    const errors = [];
    const written = [];
    const drafts = {
      put: async (d) => {
        if (d.key === 'full') throw new Error('QuotaExceededError');
        written.push(d.key);
      },
    };
    const persistence = createPersistence({ drafts, onError: (e) => errors.push(e.message) });
    persistence.save(draft('full', 1));
    await persistence.save(draft('ok', 1));
    expect(errors).toEqual(['QuotaExceededError']);
    expect(written).toEqual(['ok']);
  });
});
