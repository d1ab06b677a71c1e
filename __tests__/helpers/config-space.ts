/** Synthetic PCI config spaces for tests: an NVIDIA GPU header and a capability list of our choosing. */
export interface CapSpec {
  offset: number;
  id: number;
  /** Bytes after ID and next pointer. */
  body?: readonly number[];
}

export function gpuConfig(caps: CapSpec[], { device = 0x1db4, size = 256, firstPointer }: { device?: number; size?: number; firstPointer?: number } = {}): Uint8Array {
  const c = new Uint8Array(size);
  c.set([0xde, 0x10, device & 0xff, device >> 8], 0); // vendor 10de, device
  c[0x06] = 0x10; // status: capability list
  c[0x08] = 0xa1; // revision
  c[0x0a] = 0x02; // subclass 3D controller
  c[0x0b] = 0x03; // base class display
  c[0x34] = firstPointer ?? caps[0]?.offset ?? 0;
  caps.forEach((cap, i) => {
    c[cap.offset] = cap.id;
    c[cap.offset + 1] = caps[i + 1]?.offset ?? 0;
    (cap.body ?? []).forEach((b, j) => (c[cap.offset + 2 + j] = b));
  });
  return c;
}

/** Kepler to Volta: PM at 60h, MSI (64-bit) at 68h, PCIe at 78h; nothing at C8h. */
export const VOLTA_CAPS: CapSpec[] = [
  { offset: 0x60, id: 0x01, body: [0x03, 0x00] },
  { offset: 0x68, id: 0x05, body: [0x80, 0x00] },
  { offset: 0x78, id: 0x10, body: [0x02, 0x00] },
];

/** Turing and later: the same, plus MSI-X at C8h. */
export const TURING_CAPS: CapSpec[] = [...VOLTA_CAPS, { offset: 0xc8, id: 0x11, body: [0x05, 0x00] }];

export function p2pCap(offset: number, clique: number): CapSpec {
  return { offset, id: 0x09, body: [0x08, 0x50, 0x32, 0x50, clique << 3, 0x00] };
}

/** The text `lspci -xxx` prints for one function. */
export function lspciText(address: string, description: string, config: Uint8Array): string {
  const rows: string[] = [`${address} ${description}`];
  for (let off = 0; off < config.length; off += 16) {
    rows.push(`${off.toString(16).padStart(2, '0')}: ${[...config.subarray(off, off + 16)].map((b) => b.toString(16).padStart(2, '0')).join(' ')}`);
  }
  return rows.join('\n') + '\n';
}
