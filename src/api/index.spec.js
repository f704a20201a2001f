import { afterEach, describe, expect, it, vi } from 'vitest';
import { images } from './index.js';

describe('images.saveAnnotation', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('sends the document as built and asks for an answer without the strokes', async () => {
    const fetch = vi.fn(async () => new Response(JSON.stringify({ version: 4, stroke_count: 1 }), { status: 200 }));
    vi.stubGlobal('fetch', fetch);
    vi.stubGlobal('document', { cookie: 'csrftoken=abc' });
    const stored = await images.saveAnnotation(7, '{"strokes":[],"version":3}');
    expect(stored.version).toBe(4);
    const [url, init] = fetch.mock.calls[0];
    expect(url).toBe('/api/images/7/annotation/');
    expect(init.method).toBe('PUT');
    expect(init.body).toBe('{"strokes":[],"version":3}');
    expect(init.headers).toMatchObject({
      Prefer: 'return=minimal',
      'Content-Type': 'application/json',
      'X-CSRFToken': 'abc',
      Accept: 'application/json',
    });
  });
});
