// hash-wasm's single-algorithm build (a UMD file) has no type declarations of its own; it exports what the package
// entry exports for sha256.
declare module 'hash-wasm/dist/sha256.umd.min.js' {
  const sha256: { readonly createSHA256: typeof import('hash-wasm').createSHA256 }
  export default sha256
}
