/**
 * Keep keyboard focus inside a dialog while it is open (WAI-ARIA's modal dialog pattern): it
 * takes focus when shown, Tab and Shift+Tab cycle through its controls, and focus goes back to
 * where it was when it closes. Use as `v-trap-focus` on the dialog's element.
 */

const FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

/** Return the element Tab (or Shift+Tab, `backwards`) should move to from `active` among `items`, or null to let the browser move. */
export function nextInCycle(items, active, backwards) {
  if (!items.length) return null;
  const i = items.indexOf(active);
  if (i < 0) return backwards ? items[items.length - 1] : items[0];
  if (backwards && i === 0) return items[items.length - 1];
  if (!backwards && i === items.length - 1) return items[0];
  return null; // inside the cycle: the browser's own order is right
}

function focusables(el) {
  return [...el.querySelectorAll(FOCUSABLE)].filter((item) => !item.hidden && item.getClientRects().length > 0);
}

const traps = new WeakMap();

export const vTrapFocus = {
  mounted(el) {
    const before = document.activeElement;
    const onKey = (event) => {
      if (event.key !== 'Tab') return;
      const target = nextInCycle(focusables(el), document.activeElement, event.shiftKey);
      if (target) {
        event.preventDefault();
        target.focus();
      }
    };
    el.addEventListener('keydown', onKey);
    traps.set(el, { before, onKey });
    if (!el.contains(document.activeElement)) {
      const first = el.querySelector('[autofocus]') || focusables(el)[0];
      if (first) first.focus();
      else {
        el.setAttribute('tabindex', '-1');
        el.focus();
      }
    }
  },
  unmounted(el) {
    const trap = traps.get(el);
    if (!trap) return;
    el.removeEventListener('keydown', trap.onKey);
    // Back where the keyboard was (the button that opened the dialog), if it is still on the page.
    if (trap.before && trap.before.isConnected && typeof trap.before.focus === 'function') trap.before.focus();
    traps.delete(el);
  },
};
