import * as fs from 'node:fs';
import { explainPlanFromHost, planFromHost, readHostSnapshot } from '../lib';
import * as snapshotModule from '../lib/host/snapshot';
import { GPU, makeSysfs } from './helpers/sysfs';

// A host plan checks the snapshot it is given once (issue 20): cliquesFromTopology and mmioWindowFor check
// theirs when called from outside, but the planner hands them what it has already checked.

const root = makeSysfs({
  devices: [0x3b, 0x3c, 0x86].map((bus) => ({ path: ['pci0000:00', '0000:00:02.0', `0000:${bus.toString(16)}:00.0`], vendor: 0x10de, device: 0x2330, classCode: GPU, numa: 0 })),
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
const snapshot = readHostSnapshot(root);

test.each([
  ['planFromHost', () => planFromHost(snapshot, { gpus: 'all' })],
  ['explainPlanFromHost', () => explainPlanFromHost(snapshot, { gpus: ['3b:00.0', '3c:00.0'], policy: 'switch' }).plan],
])('%s checks the snapshot once', (_name, plan) => {
  const snapshots = jest.spyOn(snapshotModule, 'requireSnapshot');
  const devices = jest.spyOn(snapshotModule, 'requireHostDevices');
  try {
    expect(plan().hostdevs.length).toBeGreaterThan(1);
    expect(snapshots).toHaveBeenCalledTimes(1);
    expect(devices).not.toHaveBeenCalled();
  } finally {
    snapshots.mockRestore();
    devices.mockRestore();
  }
});
