// The consumer's vite build: wasm-pack's bundler output needs the wasm plugin and top-level await.
import wasm from 'vite-plugin-wasm';

export default {
  plugins: [wasm()],
  build: {
    target: 'esnext',
    outDir: 'dist-vite',
    lib: { entry: 'entry.js', formats: ['es'], fileName: 'main' },
    rolldownOptions: { external: ['react'] },
  },
  logLevel: 'warn',
};
