/** How a contract call or a transaction fails on the devnet's chain. */

/**
 * A panic: its reason, raised as a short string (`assert(..., 'reason')`) or as a `ByteArray` (`panic!("...")`),
 * which the sequencer formats differently.
 */
export class Revert {
  constructor(readonly reason: string, readonly kind: "shortString" | "byteArray" = "shortString") {}
}

/**
 * The sequencer refuses a transaction whose validation fails: it changes nothing and is never executed. `code` is
 * RPC 0.9's: 52 (`INVALID_TRANSACTION_NONCE`) for a nonce that is not the account's next, else 55
 * (`VALIDATION_FAILURE`).
 */
export class Rejected {
  /** `panic`: the account's own panic in `__validate__`, when that is why. */
  constructor(readonly reason: string, readonly code: 52 | 55 = 55, readonly panic?: string) {}
}
