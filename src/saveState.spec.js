import { describe, expect, it } from 'vitest';
import { saveStateText } from './saveState.js';

describe('saveStateText', () => {
  it.each([
    [{ status: 'saved', waiting: 0 }, 'Saved'],
    [{ status: 'saving', waiting: 1 }, 'Saving…'],
    [{ status: 'offline', waiting: 1 }, 'Offline — 1 image not sent yet'],
    [{ status: 'offline', waiting: 3 }, 'Offline — 3 images not sent yet'],
    [{ status: 'signed-out', waiting: 2 }, 'Sign in to save — 2 images not sent yet'],
    [{ status: 'conflict', waiting: 1 }, 'Changed elsewhere — choose a version'],
    [{ status: 'error', waiting: 1, message: 'strokes[3].width must be…' }, 'Not saved — strokes[3].width must be…'],
    [{ status: 'error', waiting: 1, message: null }, 'Not saved — refused by the server'],
  ])('says %o as %s', (state, label) => {
    expect(saveStateText(state).label).toBe(label);
  });

  it('explains offline work in the tooltip: kept here, sent later', () => {
    expect(saveStateText({ status: 'offline', waiting: 2 }).title).toBe(
      'Your changes to 2 images are kept in this browser and sent as soon as the server answers.',
    );
  });
});
