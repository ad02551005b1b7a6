import { setFlagsFromString } from 'node:v8'

// Imported first by server.ts, before anything allocates much. A request's objects are garbage
// once it is answered, and the live heap stays small (about 35 MB under bulk ingest), but V8's
// default growth lets the old space reach four times that before a full collection (peak
// RSS about 250 MiB in the bench). Doubling at most keeps the peak near 190 MiB, for a
// few more full collections of a small heap.
setFlagsFromString('--heap-growing-percent=100')
