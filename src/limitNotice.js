/**
 * What the annotator is told as a document nears the server's limits (./limits.js), in the
 * words of the keys they use: the undo shortcut is named for their platform when the message
 * is made, not when this module is loaded.
 */

import { modifierName } from './keymap.js';
import { LIMITS, NEAR_SHARE, canStartStroke } from './limits.js';

const number = (n) => n.toLocaleString('en-US');
const whatToDo = (mod) => `Undo some strokes (${mod}+Z), or Clear and fill large areas with the lasso (L): one outline covers what many brush strokes do.`;

/**
 * Return what to tell the annotator about a document of this size: null while it is well within
 * the limits; {level: 'near', message} from NEAR_SHARE of a limit; {level: 'full', message} once
 * no new stroke can start (or a draft from before these checks holds more than the server takes).
 * `mod` names the undo key's modifier (⌘ or Ctrl).
 */
export function limitNotice(size, mod = modifierName()) {
  const { maxStrokes, maxPoints } = LIMITS;
  if (size.strokes > maxStrokes || size.points > maxPoints) {
    const over = size.strokes > maxStrokes ? `${number(size.strokes)} strokes, more than the ${number(maxStrokes)}` : `${number(size.points)} points, more than the ${number(maxPoints)}`;
    return { level: 'full', message: `This image holds ${over} the server accepts, so it cannot be saved. ${whatToDo(mod)}` };
  }
  if (size.strokes >= maxStrokes) return { level: 'full', message: `This image has reached the ${number(maxStrokes)}-stroke limit, so new strokes are not drawn. ${whatToDo(mod)}` };
  if (!canStartStroke(size)) return { level: 'full', message: `This image has reached the ${number(maxPoints)}-point limit, so new strokes are not drawn. ${whatToDo(mod)}` };
  const strokeShare = size.strokes / maxStrokes;
  const pointShare = size.points / maxPoints;
  if (Math.max(strokeShare, pointShare) < NEAR_SHARE) return null;
  const used = strokeShare >= pointShare ? `${number(size.strokes)} of the ${number(maxStrokes)} strokes` : `${number(size.points)} of the ${number(maxPoints)} points`;
  return { level: 'near', message: `This image holds ${used} the server accepts: fill large areas with the lasso (L) rather than the brush.` };
}

/** Return what to tell the annotator when a lasso outline reaches the points one stroke may hold. */
export function longOutlineNotice() {
  return { level: 'full', message: `One outline may hold ${number(LIMITS.maxPointsPerStroke)} points: this one stops here and closes when you lift the pointer.` };
}

/**
 * Return what to tell the annotator when a lasso outline stops short (canvas/drawing.js's cut):
 * at the document's limit, with `size` counting the outline, at the points one stroke may hold,
 * or at the ink one save may paint.
 */
export function outlineCutNotice({ limit, size }) {
  if (limit === 'ink') return inkyOutlineNotice();
  return limit === 'document' ? limitNotice(size) : longOutlineNotice();
}

/** Return what to tell the annotator when a lasso outline crosses as many image rows as one save may paint. */
export function inkyOutlineNotice() {
  return {
    level: 'full',
    message: `One outline may cross ${number(LIMITS.maxInk)} image rows in all (up and down, edge by edge): this one stops here and closes when you lift the pointer. Fill what is left with another outline.`,
  };
}
