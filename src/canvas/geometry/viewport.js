/**
 * The view of an image on screen: screen = image * zoom + (tx, ty), in CSS pixels of the stage.
 * Pure functions on plain {zoom, tx, ty} objects.
 */

export const MIN_ZOOM = 0.02;
export const MAX_ZOOM = 64;

/** Return the image point under a stage point (CSS pixels relative to the stage's top-left). */
export function screenToImage(view, sx, sy) {
  return [(sx - view.tx) / view.zoom, (sy - view.ty) / view.zoom];
}

/** Return the stage point showing an image point. */
export function imageToScreen(view, x, y) {
  return [x * view.zoom + view.tx, y * view.zoom + view.ty];
}

/** Return the view that shows the whole image centred in the stage, with a small margin. */
export function fitView(imageWidth, imageHeight, stageWidth, stageHeight, margin = 16) {
  const zoom = clampZoom(
    Math.min((stageWidth - 2 * margin) / imageWidth, (stageHeight - 2 * margin) / imageHeight),
  );
  return {
    zoom,
    tx: (stageWidth - imageWidth * zoom) / 2,
    ty: (stageHeight - imageHeight * zoom) / 2,
  };
}

export function clampZoom(zoom) {
  if (!Number.isFinite(zoom) || zoom <= 0) return 1;
  return Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, zoom));
}

/** Return the view zoomed by `factor` keeping the stage point (sx, sy) over the same image point. */
export function zoomAt(view, factor, sx, sy) {
  const zoom = clampZoom(view.zoom * factor);
  const [x, y] = screenToImage(view, sx, sy);
  return { zoom, tx: sx - x * zoom, ty: sy - y * zoom };
}

/** Return the view moved by (dx, dy) stage pixels. */
export function panBy(view, dx, dy) {
  return { zoom: view.zoom, tx: view.tx + dx, ty: view.ty + dy };
}

/**
 * Return the view after a two-finger gesture: the image point under the fingers' old
 * midpoint moves to their new midpoint, scaled by the ratio of their distances.
 */
export function pinch(view, oldA, oldB, newA, newB) {
  const oldMid = [(oldA[0] + oldB[0]) / 2, (oldA[1] + oldB[1]) / 2];
  const newMid = [(newA[0] + newB[0]) / 2, (newA[1] + newB[1]) / 2];
  const oldDist = Math.hypot(oldA[0] - oldB[0], oldA[1] - oldB[1]);
  const newDist = Math.hypot(newA[0] - newB[0], newA[1] - newB[1]);
  const factor = oldDist > 0 && newDist > 0 ? newDist / oldDist : 1;
  const zoomed = zoomAt(view, factor, oldMid[0], oldMid[1]);
  return panBy(zoomed, newMid[0] - oldMid[0], newMid[1] - oldMid[1]);
}
