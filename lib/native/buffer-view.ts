// Node's own Buffer class (FastBuffer, what Buffer.from and subarray make), to make a view of an
// ArrayBuffer directly. `slab.subarray(a, b)` makes the same object, but per call it looks the
// species up and reads `slab.buffer`, a getter V8 runs in C++: on Node 20 that is ~130 of the
// ~450 instructions a 64-byte view costs (callgrind), and the echo path makes one per message.
import { Buffer } from 'node:buffer';

type BufferViewClass = new (buffer: ArrayBuffer, byteOffset: number, length: number) => Buffer;

function findBufferClass(): BufferViewClass {
  // Node exposes it as Buffer's species; checked, so a runtime without it still gets Buffers.
  const species = (Buffer as unknown as Record<symbol, unknown>)[Symbol.species];
  if (typeof species === 'function') {
    const probe = new (species as BufferViewClass)(new ArrayBuffer(4), 1, 2);
    if (Object.getPrototypeOf(probe) === Buffer.prototype && probe.byteOffset === 1 && probe.length === 2) return species as BufferViewClass;
  }
  return class extends Uint8Array {
    constructor(buffer: ArrayBuffer, byteOffset: number, length: number) {
      super(buffer, byteOffset, length);
      Object.setPrototypeOf(this, Buffer.prototype);
    }
  } as unknown as BufferViewClass;
}

/** `new BufferView(arrayBuffer, byteOffset, length)`: a Buffer viewing that memory, no copy. */
export const BufferView: BufferViewClass = findBufferClass();
