import fc from 'fast-check';
import {
  decodeP2PCapability,
  encodeP2PCapability,
  expectationFromDomain,
  findP2PCapability,
  parseLspciDump,
  predictP2PPlacement,
  transformDomain,
  verifyGuest,
  walkCapabilities,
} from '../lib';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO } from './helpers/paths';
import { TURING_CAPS, VOLTA_CAPS, gpuConfig, lspciText, p2pCap } from './helpers/config-space';

describe('walking the capability list', () => {
  test('a Volta-like list ends before C8h', () => {
    const walk = walkCapabilities(gpuConfig(VOLTA_CAPS));
    expect(walk.capabilities).toEqual([{ offset: 0x60, id: 0x01 }, { offset: 0x68, id: 0x05 }, { offset: 0x78, id: 0x10 }]);
    expect(walk.problems).toEqual([]);
  });

  test.each([
    ['a loop', gpuConfig([{ offset: 0x60, id: 1 }, { offset: 0x68, id: 5 }]).map((b, i) => (i === 0x69 ? 0x60 : b)), /loops back to 0x60/],
    ['a pointer below 40h', gpuConfig([], { firstPointer: 0x20 }), /outside 40h-FCh/],
    ['no capability list bit', gpuConfig(VOLTA_CAPS).map((b, i) => (i === 0x06 ? 0 : b)), /bit 4 is clear/],
    ['a truncated dump', gpuConfig(VOLTA_CAPS).subarray(0, 0x40), /ends at 0x40/],
    ['a header-only dump', gpuConfig(VOLTA_CAPS).subarray(0, 0x20), /less than the 64-byte header/],
  ])('%s is reported, not followed', (_name, config, problem) => {
    const walk = walkCapabilities(config as Uint8Array);
    expect(walk.problems.join()).toMatch(problem);
    expect(findP2PCapability(config as Uint8Array).found).toBeNull();
  });
});

describe('predicting where QEMU puts the capability', () => {
  test.each([
    ['Volta, QEMU 7.2', VOLTA_CAPS, '7.2.0', 'volta', 0xc8, true],
    ['Volta, QEMU 8.2', VOLTA_CAPS, '8.2.0', 'volta', 0xc8, true],
    ['Turing, QEMU 8.2: MSI-X at C8h, so D4h', TURING_CAPS, '8.2.0', 'turing', 0xd4, true],
    ['Turing, QEMU 7.2: C8h clashes with MSI-X', TURING_CAPS, '7.2.0', 'turing', null, undefined],
    ['C8h and D4h both taken', [...TURING_CAPS.slice(0, 3), { offset: 0xc8, id: 0x11 }, { offset: 0xd4, id: 0x09, body: [0x08] }], '8.2.0', 'hopper', null, undefined],
  ] as const)('%s', (_name, caps, qemu, arch, offset, agrees) => {
    const p = predictP2PPlacement(gpuConfig([...caps]), qemu, arch);
    expect(p.offset).toBe(offset);
    expect(p.agrees).toBe(agrees);
    if (offset === null) expect(p.error).toMatch(/invalid config space|overlaps/);
  });

  test('QEMU 8.1 choosing C8h on a GPU the spec says wants D4h is reported as disagreement', () => {
    expect(predictP2PPlacement(gpuConfig(VOLTA_CAPS), '8.1.0', 'ampere')).toMatchObject({ offset: 0xc8, recommended: 0xd4, agrees: false });
  });
});

describe('lspci -xxx dumps', () => {
  test('several functions with their headers; a short dump stays short', () => {
    const text =
      lspciText('3b:00.0', '3D controller: NVIDIA Corporation GV100GL [Tesla V100 PCIe 16GB] (rev a1)', gpuConfig(VOLTA_CAPS)) +
      '\n' +
      lspciText('0000:5e:00.0', '3D controller: NVIDIA Corporation Device 2330', gpuConfig(TURING_CAPS, { device: 0x2330 }).subarray(0, 64));
    const [a, b] = parseLspciDump(text);
    expect(a).toMatchObject({ address: '3b:00.0', vendor: 0x10de, device: 0x1db4, classCode: 0x0302 });
    expect(a.config).toHaveLength(256);
    expect(b).toMatchObject({ address: '0000:5e:00.0', device: 0x2330 });
    expect(b.config).toHaveLength(64);
  });
});

describe('verifying the guest', () => {
  const domain = fs.readFileSync(path.join(REPO, 'examples', 'domain.xml'), 'utf8');
  const plan = JSON.parse(fs.readFileSync(path.join(REPO, 'examples', '4plus4-k80.plan.json'), 'utf8'));
  const expected = expectationFromDomain(transformDomain(domain, plan));
  const guestGpu = (i: number, clique: number | null, offset = 0xc8) =>
    parseLspciDump(
      lspciText(`0${i + 1}:00.0`, '3D controller: NVIDIA Corporation GK210GL [Tesla K80]', gpuConfig(clique === null ? VOLTA_CAPS : [...VOLTA_CAPS, p2pCap(offset, clique)], { device: 0x102d })),
    )[0];

  test('the spec’s 4+4 example reaches the guest: four GPUs in clique 0, four in clique 1, at C8h', () => {
    const guest = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => guestGpu(i, i < 4 ? 0 : 1));
    const report = verifyGuest(expected, guest);
    expect(report).toMatchObject({ ok: true, problems: [], warnings: [] });
    expect(report.gpus.map((g) => g.clique)).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
  });

  test.each([
    ['a GPU without the capability', (i: number) => guestGpu(i, i === 3 ? null : i < 4 ? 0 : 1), /did not reach the guest/],
    ['cliques swapped across sockets', (i: number) => guestGpu(i, i % 2), /clique 0: expected 4 GPUs, found 4|clique/],
    ['a GPU in the wrong clique', (i: number) => guestGpu(i, i === 7 ? 0 : i < 4 ? 0 : 1), /clique 0: expected 4 GPUs, found 5/],
    ['the capability at D4h where C8h was expected', (i: number) => guestGpu(i, i < 4 ? 0 : 1, i === 0 ? 0xd4 : 0xc8), /expected 0xc8/],
  ])('%s is reported', (_name, make, problem) => {
    const report = verifyGuest(expected, [0, 1, 2, 3, 4, 5, 6, 7].map(make));
    if (_name === 'cliques swapped across sockets') {
      // 4 GPUs in each clique either way: the guest cannot tell which physical GPU is which, so this passes.
      expect(report.ok).toBe(true);
      return;
    }
    expect(report.ok).toBe(false);
    expect([...report.problems, ...report.gpus.flatMap((g) => g.problems)].join(' | ')).toMatch(problem);
  });

  test('a domain that hides KVM gets a warning', () => {
    const hidden = domain.replace('<apic/>', "<apic/>\n    <kvm><hidden state='on'/></kvm>");
    expect(verifyGuest(expectationFromDomain(transformDomain(hidden, plan)), []).warnings.join()).toMatch(/hides KVM/);
  });
});

test('property: every clique at both offsets survives encode → place → find → decode', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 15 }), fc.constantFrom(0xc8, 0xd4), (clique, offset) => {
      const config = gpuConfig([...VOLTA_CAPS, p2pCap(offset, 0)]);
      config.set(encodeP2PCapability(clique), offset);
      const found = findP2PCapability(config).found;
      const decoded = decodeP2PCapability(config.subarray(offset, offset + 8));
      return found !== null && found.offset === offset && found.clique === clique && decoded.ok && decoded.clique === clique;
    }),
    { numRuns: 200, seed: 42 },
  );
});
