/**
 * The drawing tools' settings, remembered across images and sessions (localStorage).
 *
 * state: { tool: 'brush' | 'eraser' | 'lasso' | 'lasso-eraser', width: number (image px),
 *          opacity: number 0..1, reference: boolean (show the untouched image beside) }
 */

import { clampWidth, stepWidth } from '../../canvas/geometry/strokePoints.js';

const SAVED = 'eyetagger.tools';
const TOOLS = ['brush', 'eraser', 'lasso', 'lasso-eraser'];

function saved() {
  try {
    return JSON.parse(localStorage.getItem(SAVED) || '{}');
  } catch {
    return {}; // unreadable: start from the defaults
  }
}

export function createToolsModule() {
  return {
    namespaced: true,
    state: () => {
      const s = typeof localStorage === 'undefined' ? {} : saved();
      return {
        tool: TOOLS.includes(s.tool) ? s.tool : 'brush',
        width: clampWidth(s.width || 12),
        opacity: typeof s.opacity === 'number' ? Math.min(1, Math.max(0, s.opacity)) : 0.55,
        reference: !!s.reference,
      };
    },
    mutations: {
      setTool(state, tool) {
        if (TOOLS.includes(tool)) state.tool = tool;
      },
      setWidth(state, width) {
        state.width = clampWidth(width);
      },
      stepWidth(state, direction) {
        state.width = stepWidth(state.width, direction);
      },
      setOpacity(state, opacity) {
        state.opacity = Math.min(1, Math.max(0, Number(opacity)));
      },
      toggleReference(state) {
        state.reference = !state.reference;
      },
    },
  };
}

/** Remember the tools' settings after each change. */
export function toolsMemoryPlugin(store) {
  store.subscribe((mutation, state) => {
    if (mutation.type.startsWith('tools/') && typeof localStorage !== 'undefined') {
      localStorage.setItem(SAVED, JSON.stringify(state.tools));
    }
  });
}
