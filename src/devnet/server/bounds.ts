/**
 * Bounds on the shape of a request body, checked over its bytes as they arrive, before it is parsed or decoded:
 * how deep it nests, how many members one array or object holds, how long one string is, and how many entries a
 * JSON-RPC batch holds. Every value the served devnet answers fits well inside them; a body beyond them is refused
 * as a whole, and the rest of it is neither kept nor scanned (never parsed, so no decoder, formatter or logger walks
 * a value deep enough to exhaust the stack).
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

const enum Byte {
  Tab = 0x09,
  LineFeed = 0x0a,
  Return = 0x0d,
  Space = 0x20,
  Quote = 0x22,
  Comma = 0x2c,
  Backslash = 0x5c,
  OpenArray = 0x5b,
  CloseArray = 0x5d,
  OpenObject = 0x7b,
  CloseObject = 0x7d
}

/**
 * Follows a body's strings, nesting and the commas between members as its bytes arrive, in one pass: what bound
 * it exceeds, if any, and, for a body that opens with `[` (a JSON-RPC batch), how many top-level entries it holds.
 * Well-formedness is left to `JSON.parse`.
 */
export class ShapeScanner {
  /** The bound the bytes so far exceed, once they do (then nothing more is scanned). */
  beyond: string | undefined = undefined
  /** Top-level entries seen so far when the body is an array (a batch); 0 otherwise. */
  entries = 0
  /** Members so far of each open array or object, by depth (index 0: the body itself). */
  private readonly members: Int32Array
  private depth = 0
  private inString = false
  private escaped = false
  private stringBytes = 0
  private started = false
  private batch = false
  /** In a batch, at depth 1, where the next byte that is not blank or a comma opens an entry. */
  private expecting = false

  constructor(private readonly bounds: ShapeBounds = SHAPE_DEFAULTS) {
    this.members = new Int32Array(bounds.maxDepth + 1)
  }

  /** Scans the next bytes; answers `beyond`. */
  feed(bytes: Uint8Array): string | undefined {
    if (this.beyond !== undefined) return this.beyond
    const { maxDepth, maxMembers, maxStringBytes } = this.bounds
    const members = this.members
    let depth = this.depth
    let inString = this.inString
    let escaped = this.escaped
    let stringBytes = this.stringBytes
    let i = 0
    if (!this.started) {
      while (i < bytes.length && (bytes[i] === Byte.Space || bytes[i] === Byte.Tab || bytes[i] === Byte.LineFeed || bytes[i] === Byte.Return)) i++
      if (i < bytes.length) {
        this.started = true
        this.batch = bytes[i] === Byte.OpenArray
        this.expecting = this.batch
      }
    }
    let beyond: string | undefined
    for (; i < bytes.length; i++) {
      const b = bytes[i]!
      if (inString) {
        if (escaped) escaped = false
        else if (b === Byte.Quote) {
          inString = false
          continue
        } else if (b === Byte.Backslash) escaped = true
        if (++stringBytes > maxStringBytes) {
          beyond = `a string is longer than ${maxStringBytes} bytes`
          break
        }
        continue
      }
      if (b === Byte.Space || b === Byte.Tab || b === Byte.LineFeed || b === Byte.Return) continue
      if (b === Byte.Comma) {
        if (depth === 1) this.expecting = this.batch
        else if (depth > 1 && ++members[depth - 1]! > maxMembers) {
          beyond = `an array or object holds more than ${maxMembers} members`
          break
        }
        continue
      }
      if (b === Byte.CloseArray || b === Byte.CloseObject) {
        // A batch's entries are counted up to its closing bracket (after it, JSON.parse refuses the body anyway).
        if (depth > 0 && --depth === 0) this.batch = this.expecting = false
        continue
      }
      if (depth === 1 && this.expecting) {
        this.entries++
        this.expecting = false
      }
      if (b === Byte.Quote) {
        inString = true
        stringBytes = 0
      } else if (b === Byte.OpenArray || b === Byte.OpenObject) {
        if (depth >= maxDepth) {
          beyond = `the body nests deeper than ${maxDepth} levels`
          break
        }
        members[depth++] = 1
      }
    }
    this.depth = depth
    this.inString = inString
    this.escaped = escaped
    this.stringBytes = stringBytes
    this.beyond = beyond
    return beyond
  }
}

/**
 * Scans a whole body: `undefined` when it keeps within `bounds`, else what it exceeds.
 */
export const exceeds = (bytes: Uint8Array, bounds: ShapeBounds = SHAPE_DEFAULTS): string | undefined =>
  new ShapeScanner(bounds).feed(bytes)
