// The part of the WebAssembly JS API the fused kernel uses (fused.ts). Node has had it since v8;
// @types/node 20 does not declare it, and lib.dom, which does, would bring the whole DOM into the types.
declare namespace WebAssembly {
  class Module {
    constructor(bytes: Uint8Array)
  }
  class Instance {
    constructor(module: Module, imports?: Record<string, Record<string, unknown>>)
    readonly exports: Record<string, unknown>
  }
  class Memory {
    readonly buffer: ArrayBuffer
  }
}
