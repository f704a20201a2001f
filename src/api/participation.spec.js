import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { participantApi, participation } from './participation.js';
import { images } from './index.js';

/** Stub fetch with a server answering `answer`; return the stub (its calls are [url, init]). */
function stubFetch(answer = { version: 4, stroke_count: 1 }) {
  const fetch = vi.fn(async () => new Response(JSON.stringify(answer), { status: 200 }));
  vi.stubGlobal('fetch', fetch);
  vi.stubGlobal('document', { cookie: 'csrftoken=abc' });
  return fetch;
}

describe('participation.changeAnnotation', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('PATCHes the change as built to the participant\'s own image, as images.changeAnnotation does', async () => {
    const fetch = stubFetch();
    const json = '{"append":[],"version":3,"remove":1,"op":"s-7-3-2","guidance_events":[{"t":5,"shown":true}]}';
    const stored = await participation.changeAnnotation(7, json);
    expect(stored.version).toBe(4);
    const [url, init] = fetch.mock.calls[0];
    expect(url).toBe('/api/participation/images/7/annotation/');
    expect(init.method).toBe('PATCH');
    expect(init.body).toBe(json);
    expect(init.headers).toMatchObject({ 'Content-Type': 'application/json', 'X-CSRFToken': 'abc' });
    await images.changeAnnotation(7, json);
    const [, annotators] = fetch.mock.calls[1];
    expect(init.headers).toEqual(annotators.headers); // the same request but for the path
  });
});

describe('participantApi', () => {
  let fetch;
  beforeEach(() => {
    fetch = stubFetch();
  });
  afterEach(() => vi.unstubAllGlobals());

  const api = () => participantApi({ images: { prefetch: () => true }, datasets: {}, annotations: {} });

  it('saves a participant\'s changes through the participation API, so the sync sends them as changes', async () => {
    const client = api();
    expect(client.images.changeAnnotation).toBe(participation.changeAnnotation);
    await client.images.changeAnnotation(12, '{"append":[],"version":1}');
    expect(fetch.mock.calls[0][0]).toBe('/api/participation/images/12/annotation/');
    expect(fetch.mock.calls[0][1].method).toBe('PATCH');
  });

  it('still PUTs whole documents through the participation API', async () => {
    await api().images.saveAnnotation(12, '{"strokes":[],"version":0}');
    const [url, init] = fetch.mock.calls[0];
    expect([url, init.method, init.headers.Prefer]).toEqual(['/api/participation/images/12/annotation/', 'PUT', 'return=minimal']);
  });
});
