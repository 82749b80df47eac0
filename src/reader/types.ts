/** What the read side returns: the head and the proof bundles. */

/**
 * Who signed an event: the seal of its batch and the event's path to the
 * seal's root. With it, one event is provable without revealing the others.
 */
export interface Attribution {
  readonly sealIndex: number;
  /** The seal's exact entry bytes (a signed record of kind "batch"). */
  readonly seal: Uint8Array;
  /** Inclusion proof of the seal in the same tree as the event. */
  readonly sealInclusion: Uint8Array[];
  /** The event's place in its batch. */
  readonly position: number;
  /** RFC 9162 inclusion path of the event's leaf in the batch tree (size = the seal's count). */
  readonly path: Uint8Array[];
  /** The author's Ed25519 public key that the seal's keyId names in this ledger. */
  readonly authorKey: Uint8Array;
}

export interface Head {
  readonly origin: string;
  readonly size: number;
  readonly height: number;
  readonly root: Uint8Array;
  readonly time: number;
  /** The block's signed checkpoint note, byte for byte as signed. */
  readonly checkpoint: string;
}

export interface InclusionBundle {
  readonly origin: string;
  readonly index: number;
  readonly size: number;
  /** The exact log entry bytes (a signed record, or an event of a batch). */
  readonly leaf: Uint8Array;
  readonly inclusion: Uint8Array[];
  readonly root: Uint8Array;
  readonly checkpoint: string;
  /** For an event: the seal that signs it. */
  readonly attribution?: Attribution;
}

export interface ConsistencyBundle {
  readonly origin: string;
  readonly size1: number;
  readonly size2: number;
  readonly root1: Uint8Array;
  readonly root2: Uint8Array;
  readonly consistency: Uint8Array[];
  /** Signed checkpoint at size1, when size1 ends a block. */
  readonly checkpoint1?: string;
  /** Signed checkpoint at size2 (always: size2 must end a block). */
  readonly checkpoint2: string;
}
