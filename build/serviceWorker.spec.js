import { describe, expect, it } from 'vitest';
import { precachedFiles } from './serviceWorker.js';

const chunk = (fileName, { isEntry = false, isDynamicEntry = false, facade = null, imports = [], dynamicImports = [], css = [] } = {}) => ({
  type: 'chunk',
  fileName,
  isEntry,
  isDynamicEntry,
  facadeModuleId: facade,
  imports,
  dynamicImports,
  viteMetadata: { importedCss: new Set(css) },
});

function bundleOf(...files) {
  return Object.fromEntries(files.map((f) => [f.fileName, f]));
}

describe('precachedFiles', () => {
  const bundle = bundleOf(
    chunk('assets/index.js', { isEntry: true, dynamicImports: ['assets/AnnotatePage.js', 'assets/ReviewPage.js'], css: ['assets/index.css'] }),
    chunk('assets/AnnotatePage.js', { isDynamicEntry: true, facade: '/app/src/components/AnnotatePage.vue', imports: ['assets/input.js'] }),
    chunk('assets/ReviewPage.js', {
      isDynamicEntry: true,
      facade: '/app/src/components/review/ReviewPage.vue',
      imports: ['assets/input.js', 'assets/review.js'],
      css: ['assets/review.css', 'assets/index.css'],
    }),
    chunk('assets/input.js'),
    chunk('assets/review.js'),
    { type: 'asset', fileName: 'assets/index.css' },
    { type: 'asset', fileName: 'assets/review.css' },
  );

  it('leaves out the matched pages and what only they import, keeping what others share', () => {
    expect(precachedFiles(bundle, /\/components\/review\//).sort()).toEqual([
      'assets/AnnotatePage.js',
      'assets/index.css',
      'assets/index.js',
      'assets/input.js',
    ]);
  });

  it('keeps everything when nothing is to be left out', () => {
    expect(precachedFiles(bundle, null).sort()).toEqual(Object.keys(bundle).sort());
  });
});
