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

/**
 * The verifiable status map (src/state/map.ts): a key is the hash of an
 * entity's (type, id), a value is hashed before it enters a leaf, and leaf,
 * inner and empty nodes are hashed under three distinct prefixes, so no node
 * of one kind can be read as another (a leaf as an inner node, an empty branch
 * as either).
 */
export const STATE_KEY_CONTEXT = 'dirchain/state/key/v1\n';
export const STATE_VALUE_CONTEXT = 'dirchain/state/value/v1\n';
export const STATE_LEAF_CONTEXT = 'dirchain/state/leaf/v1\n';
export const STATE_INNER_CONTEXT = 'dirchain/state/inner/v1\n';
export const STATE_EMPTY_CONTEXT = 'dirchain/state/empty/v1\n';

/**
 * Committed attributes (src/privacy/commitment.ts): a per-attribute salt and
 * each decoy are derived from the record's secret under distinct HKDF infos;
 * an attribute's digest and the tree over the digests hash under their own
 * prefixes, so no digest can be read as a tree node or as any other hash here.
 */
export const ATTRIBUTE_SALT_INFO = 'dirchain/attribute/salt/v1\n';
export const ATTRIBUTE_DECOY_INFO = 'dirchain/attribute/decoy/v1\n';
export const ATTRIBUTE_DIGEST_CONTEXT = 'dirchain/attribute/digest/v1\n';
export const ATTRIBUTE_NODE_CONTEXT = 'dirchain/attribute/node/v1\n';

/** Ed25519 message prefix for a disclosure's binding to its recipient (src/privacy/disclosure.ts). */
export const DISCLOSURE_BINDING_CONTEXT = 'dirchain/disclosure/binding/v1\n';

/**
 * Sealed payloads (src/privacy/sealed.ts): the HPKE `info` of a recipient's
 * stanza, and the associated data of the payload's own AEAD.
 */
export const SEALED_INFO = 'dirchain/sealed/stanza/v1\n';
export const SEALED_AAD = 'dirchain/sealed/payload/v1\n';
export const SEALED_KEY_CONTEXT = 'dirchain/sealed/key/v1\n';

/** Blind-index search (src/privacy/blind-index.ts): an index's key derived from a department's key. */
export const BLIND_INDEX_KEY_INFO = 'dirchain/blind-index/key/v1\n';
