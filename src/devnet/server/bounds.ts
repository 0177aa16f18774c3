/**
 * Bounds on the shape of a request body, checked over its bytes before it is parsed or decoded: how deep it nests,
 * how many members one array or object holds, how long one string is. Every value the served devnet answers fits
 * well inside them; a body beyond them is refused as a whole (never parsed, so no decoder, formatter or logger
 * walks a value deep enough to exhaust the stack).
 */

/**
 * @since 0.2.0
 * @category models
 */
export interface ShapeBounds {
  /** Deepest nesting of arrays and objects (the body itself is depth 1). */
  readonly maxDepth: number
  /** Most members of one array or object below the top level (a batch's length has its own limit). */
  readonly maxMembers: number
  /** Longest string, in bytes of UTF-8 between its quotes (escapes counted as written). */
  readonly maxStringBytes: number
}

/** Defaults (documented in docs/devnet.md). */
export const SHAPE_DEFAULTS: ShapeBounds = { maxDepth: 64, maxMembers: 10_000, maxStringBytes: 8_192 }

/**
 * Scans a body: `undefined` when it keeps within `bounds`, else what it exceeds. Well-formedness is left to
 * `JSON.parse`; this follows strings, nesting and the commas between members only.
 */
export const exceeds = (bytes: Uint8Array, bounds: ShapeBounds = SHAPE_DEFAULTS): string | undefined => {
  const members: Array<number> = []
  let inString = false
  let escaped = false
  let stringBytes = 0
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!
    if (inString) {
      if (++stringBytes > bounds.maxStringBytes) return `a string is longer than ${bounds.maxStringBytes} bytes`
      if (escaped) escaped = false
      else if (b === 0x5c) escaped = true
      else if (b === 0x22) inString = false
      continue
    }
    if (b === 0x22) {
      inString = true
      stringBytes = 0
    } else if (b === 0x5b || b === 0x7b) {
      if (members.length >= bounds.maxDepth) return `the body nests deeper than ${bounds.maxDepth} levels`
      members.push(1)
    } else if (b === 0x5d || b === 0x7d) {
      members.pop()
    } else if (b === 0x2c && members.length > 1) {
      if (++members[members.length - 1]! > bounds.maxMembers) return `an array or object holds more than ${bounds.maxMembers} members`
    }
  }
  return undefined
}
