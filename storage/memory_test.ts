import { conformance } from "../testing/storage/conformance.ts";
import { MemoryStorage } from "./memory.ts";

conformance(
  "memory",
  () => Promise.resolve({ storage: new MemoryStorage(), cleanup: () => Promise.resolve() }),
);
