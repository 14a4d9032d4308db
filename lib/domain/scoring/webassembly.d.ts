/**
 * The part of the WebAssembly JavaScript API the scoring kernel uses. TypeScript declares it only
 * in its DOM libraries, which this project (Node, lib ES2023) leaves out, and @types/node does not.
 */
declare namespace WebAssembly {
  class Module {
    constructor(bytes: Uint8Array);
  }
  class Memory {
    constructor(descriptor: { initial: number; maximum?: number });
    readonly buffer: ArrayBuffer;
  }
  class Instance {
    constructor(module: Module, imports: Record<string, Record<string, unknown>>);
    readonly exports: Record<string, unknown>;
  }
  function validate(bytes: Uint8Array): boolean;
}
