/**
 * What a save tells the server about the device the annotation was drawn on (the PUT body's
 * `client`): the browser, the screen's pixel ratio, and the kinds of pointer that drew.
 */

const POINTERS = ['mouse', 'pen', 'touch'];

/** Return the device: notePointer(type) as strokes begin, describe() for each save. */
export function createDevice(nav = globalThis.navigator, screen = globalThis) {
  const pointerTypes = new Set();
  return {
    notePointer(type) {
      if (POINTERS.includes(type)) pointerTypes.add(type);
    },
    describe() {
      if (nav === undefined) return undefined;
      return {
        user_agent: (nav.userAgent || '').slice(0, 500),
        device_pixel_ratio: screen.devicePixelRatio || 1,
        pointer_types: [...pointerTypes],
      };
    },
  };
}
