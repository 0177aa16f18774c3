/**
 * Token moves read from calldata as the ERC-20 ABI lays it out (OpenZeppelin's Cairo ERC20, both spellings):
 * `transfer(recipient, amount: u256)`, `approve(spender, amount: u256)`, `increase_allowance(spender, added_value:
 * u256)` / `increaseAllowance`, `transfer_from(sender, recipient, amount: u256)` / `transferFrom`. A u256 is two
 * felts, `[low, high]`, each below 2^128.
 */
import { callSelector, type Call, selectorOf } from "../../Schemas.js"
import { U128_MAX } from "../crypto/felt.js"
import { lazily } from "../account/lazy.js"

/** Where the recipient (or spender) sits in the calldata; the amount's two felts follow it. */
const LAYOUT: ReadonlyArray<readonly [name: string, recipientAt: number]> = [
  ["transfer", 0],
  ["approve", 0],
  ["increase_allowance", 0],
  ["increaseAllowance", 0],
  ["transfer_from", 1],
  ["transferFrom", 1]
]

const BY_SELECTOR: ReadonlyMap<bigint, { readonly name: string; readonly recipientAt: number }> = lazily(
  () => new Map(LAYOUT.map(([name, recipientAt]) => [BigInt(selectorOf(name)), { name, recipientAt }] as const))
)

/** A token move: who receives (or may spend) how much of which token. */
export interface Move {
  readonly token: bigint
  readonly kind: string
  readonly recipient: bigint
  readonly amount: bigint
}

/** The move a call makes; `undefined` for a call that moves no token; `"malformed"` when its calldata is not the ABI's. */
export const moveOf = (call: Call): Move | "malformed" | undefined => {
  const layout = BY_SELECTOR.get(BigInt(callSelector(call)))
  if (layout === undefined) return undefined
  const { recipientAt } = layout
  if (call.calldata.length !== recipientAt + 3) return "malformed"
  const low = BigInt(call.calldata[recipientAt + 1]!)
  const high = BigInt(call.calldata[recipientAt + 2]!)
  if (low > U128_MAX || high > U128_MAX) return "malformed"
  return {
    token: BigInt(call.contractAddress),
    kind: layout.name,
    recipient: BigInt(call.calldata[recipientAt]!),
    amount: (high << 128n) + low
  }
}
