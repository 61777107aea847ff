// The consumer's webpack build: the package's wasm as an async WebAssembly module.
module.exports = {
  mode: 'production',
  entry: './entry.js',
  output: { path: `${__dirname}/dist-webpack`, filename: 'main.js' },
  experiments: { asyncWebAssembly: true },
  externals: { react: 'React' },
  performance: { hints: false },
};
