import { PassthroughError } from './errors';
import { normalizePlan } from './plan/normalize';
import { PlanHostdev } from './plan/types';
import { hostdevLines } from './render/hostdev';
import { GUIDE_STYLE, placeLines } from './render/style';

/**
 * The standalone `<hostdev>` for `virsh attach-device DOMAIN FILE --config` (the NPU guide's step 2),
 * ending with a newline like the guide's heredoc. A GPUDirect clique cannot go in such a file
 * (it lives in the domain's `<qemu:override>`), so entries with gpudirect are refused.
 */
export function renderHostdev(entry: PlanHostdev | string): string {
  const hostdev = typeof entry === 'string' ? { address: entry } : entry;
  if (hostdev && typeof hostdev === 'object' && 'gpudirect' in hostdev) {
    throw new PassthroughError(
      'PLAN_INVALID',
      'A GPUDirect clique cannot be attached with virsh attach-device: it is set in the domain (<qemu:override>). Use transformDomain on the domain XML instead.',
      { path: 'gpudirect' },
    );
  }
  const [planned] = normalizePlan({ hostdevs: [hostdev] }, []);
  return placeLines(hostdevLines(planned, GUIDE_STYLE), '', GUIDE_STYLE).slice(1) + '\n';
}
