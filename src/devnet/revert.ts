/** How a contract call or a transaction fails on the devnet's chain. */

/**
 * A panic: its reason, raised as a short string (`assert(..., 'reason')`) or as a `ByteArray` (`panic!("...")`),
 * which the sequencer formats differently.
 */
export class Revert {
  constructor(readonly reason: string, readonly kind: "shortString" | "byteArray" = "shortString") {}
}

/** The sequencer refuses a transaction whose validation fails: it changes nothing and is never executed. */
export class Rejected {
  constructor(readonly reason: string) {}
}
