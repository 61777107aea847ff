// webpack builds of the workspace. `--config-name demo` bundles the demo page (www/);
// `--config-name bench` the benchmark pages;
// `--config-name react-test` the page that tests the React bindings;
// `--config-name release-check` bundles the optimised npm
// package (pkg/, built by scripts/build-pkg.sh) into a page that exercises it in Chromium.
const path = require('path');

const wasmPackage = {
  experiments: { asyncWebAssembly: true },
  resolve: { alias: { 'rockon-sync': path.resolve(__dirname, 'pkg') } },
  performance: { hints: false },
};

module.exports = [
  {
    name: 'demo',
    mode: 'production',
    entry: './www/src/main.js',
    output: { path: path.resolve(__dirname, 'dist/demo'), filename: 'app.js', clean: true },
    ...wasmPackage,
  },
  {
    name: 'e2e',
    mode: 'production',
    entry: { 'restart-page': './tests/e2e/restart-page.js', 'chaos-page': './tests/e2e/chaos-page.js' },
    output: { path: path.resolve(__dirname, 'dist/e2e'), filename: '[name].js', clean: true },
    ...wasmPackage,
  },
  {
    name: 'bench',
    mode: 'production',
    entry: { 'write-path': './bench/write-path.js', suite: './bench/suite.js' },
    output: { path: path.resolve(__dirname, 'dist/bench'), filename: '[name].js', clean: true },
    ...wasmPackage,
  },
  {
    name: 'react-test',
    mode: 'production',
    entry: { page: './tests/react/page.js' },
    output: { path: path.resolve(__dirname, 'dist/react-test'), filename: '[name].js', clean: true },
    ...wasmPackage,
  },
  {
    // What each side ships, for the bundle size row of the benchmark.
    name: 'bench-size',
    mode: 'production',
    entry: { rockon: './bench/size-rockon.js', hooks: './bench/size-hooks.js', baseline: './bench/size-baseline.js' },
    output: { path: path.resolve(__dirname, 'dist/bench-size'), filename: '[name].js', clean: true },
    externals: { react: 'React' },
    optimization: { splitChunks: false },
    ...wasmPackage,
  },
  {
    name: 'release-check',
    mode: 'production',
    entry: './tests/release/check.js',
    output: { path: path.resolve(__dirname, 'dist/release-check'), filename: 'check.js', clean: true },
    ...wasmPackage,
  },
];
