import { describe, expect, it } from 'vitest';
import { createDevice } from './device.js';

describe('device', () => {
  it('says which kinds of pointer drew, once each, and nothing else', () => {
    const device = createDevice({ userAgent: 'Firefox' }, { devicePixelRatio: 2 });
    for (const type of ['pen', 'mouse', 'pen', 'robot', '']) device.notePointer(type);
    expect(device.describe()).toEqual({ user_agent: 'Firefox', device_pixel_ratio: 2, pointer_types: ['pen', 'mouse'] });
  });

  it('keeps the user agent to the 500 characters the server takes', () => {
    expect(createDevice({ userAgent: 'x'.repeat(900) }, {}).describe().user_agent).toHaveLength(500);
  });

  it('says nothing where there is no navigator', () => {
    expect(createDevice(undefined).describe()).toBeUndefined();
  });
});
