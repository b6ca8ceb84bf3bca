// Imported before the undici package, for its side effect: it makes Node's bundled fetch (undici 6
// in Node 20) install its own Agent as the process's global dispatcher. The undici package
// installs its Agent there on load when the slot is still empty, and Node's fetch then dispatches
// through another major version of undici, which refuses requests it builds (a caller-set
// content-length arrives twice: UND_ERR_INVALID_ARG). Touching a lazy global such as `Headers`
// loads the bundled undici without sending anything; with the slot taken, the package leaves it
// alone, and our fetches name their dispatcher (tls-fetch.ts), so the two versions never mix.
void globalThis.Headers;
