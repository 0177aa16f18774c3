/**
 * Values built on first use rather than when a module is evaluated. Selector tables are keccaks, which cost
 * milliseconds each while the hash code is still cold: importing the library must not pay for tables that only a
 * transaction needs.
 */

/**
 * A stand-in for the object `make` builds, built at the first read of any of its properties. Methods are bound to
 * the built object, so that a `Set`'s or a `Map`'s own methods work through it.
 */
export const lazily = <T extends object>(make: () => T): T => {
  let value: T | undefined
  const built = (): T => (value ??= make())
  return new Proxy({} as T, {
    get: (_, key) => {
      const target = built()
      const field = Reflect.get(target, key, target) as unknown
      return typeof field === "function" ? field.bind(target) : field
    },
    has: (_, key) => Reflect.has(built(), key),
    ownKeys: () => Reflect.ownKeys(built()),
    getOwnPropertyDescriptor: (_, key) => {
      const descriptor = Reflect.getOwnPropertyDescriptor(built(), key)
      // A proxy may only report as non-configurable what its own (empty) target has.
      return descriptor === undefined ? undefined : { ...descriptor, configurable: true }
    }
  })
}
