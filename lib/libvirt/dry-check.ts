import { PassthroughError, isPassthroughError } from '../errors';
import { VirshOptions, runVirsh } from './virsh';

/** What a dry run could and could not learn from libvirt without defining anything. */
export interface DryCheck {
  /** One sentence: what libvirt checked, what it could not, what is never checked without a define. */
  said: string;
}

// Messages of a libvirt that cannot pass PCI devices through on this host (no VFIO, no IOMMU): a fact about
// the host, not about the XML, so the check is "not possible here" rather than a refusal.
const HOST_CANNOT = /invalid PCI passthrough type|host doesn't support passthrough|VFIO|IOMMU/i;

const NEVER = 'not checked without defining: libvirt\'s schema (define --validate), what libvirt keeps of the definition (the read-back after define), the host devices themselves';

/**
 * Hands the planned definition to libvirt's parser without defining it: `virsh domxml-to-native
 * qemu-argv` parses the XML, assigns addresses (a doubly used guest address is refused here, as define
 * would) and builds the QEMU command line. Throws LIBVIRT_REFUSED when libvirt refuses the XML itself.
 */
export function checkWithoutDefining(xml: string, options: VirshOptions): DryCheck {
  try {
    runVirsh(['domxml-to-native', '--format', 'qemu-argv', '--xml', '/dev/stdin'], options, {
      step: 'dry-run check',
      ifHung: 'nothing was defined',
      input: xml,
    });
    return { said: `libvirt parsed the new definition and built its QEMU command line (domxml-to-native); ${NEVER}` };
  } catch (err) {
    if (!isPassthroughError(err) || err.code !== 'LIBVIRT_REFUSED') throw err;
    const reason = err.message.replace(/^virsh domxml-to-native failed: /, '');
    if (HOST_CANNOT.test(reason)) {
      return { said: `libvirt parsed the new definition and placed its devices, but could not build the QEMU command line on this host (${reason}); ${NEVER}` };
    }
    throw new PassthroughError('LIBVIRT_REFUSED', `libvirt would refuse the new definition: ${reason}; nothing was defined`);
  }
}
