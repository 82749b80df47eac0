/**
 * Every domain-separation string dirchain uses, in one place (as hypercore's
 * caps.js does), so no two purposes can ever share a hash or signature input.
 * Each is prefixed to the message it separates; messages after the prefix are a
 * single length-delimited value (a MessagePack array or fixed-size bytes), so
 * the concatenation is unambiguous.
 *
 * RFC 9162 leaf and node prefixes (0x00, 0x01) and the C2SP signed-note formats
 * are fixed by their specs and live with the code that implements them.
 */

/** Ed25519 message prefix for a record envelope's signature. */
export const RECORD_SIGNATURE_CONTEXT = 'dirchain/record/v1\n';

/** Ed25519 message prefix for an approval (admin quorum, countersignature) over nested terms bytes. */
export const APPROVAL_SIGNATURE_CONTEXT = 'dirchain/approval/v1\n';
