import { defineConfig } from 'vite';
import vue from '@vitejs/plugin-vue';
import { serviceWorker } from './build/serviceWorker.js';

// Django serves dist/index.html at / and every SPA route; the hashed assets are static
// files under /static/ (Whitenoise). `npm run dev` proxies /api to Django: on :8000 here, or at
// EYETAGGER_API_URL (docker-compose.dev.yaml points it at the web service).
export default defineConfig({
  base: '/static/',
  // The Review page (researchers and admins) is not precached: annotators never download it.
  plugins: [vue(), serviceWorker({ leaveOut: /\/src\/components\/review\// })],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2020',
    reportCompressedSize: true,
  },
  server: {
    port: 5173,
    proxy: { '/api': process.env.EYETAGGER_API_URL || 'http://127.0.0.1:8000' },
  },
  test: {
    include: ['src/**/*.spec.js', 'build/**/*.spec.js'],
    environment: 'node',
  },
});
