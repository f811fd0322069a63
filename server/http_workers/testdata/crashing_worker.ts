/**
 * An HTTP worker for tests (`pool_test.ts`): the real one (`../worker.ts`), which dies of an uncaught error
 * when it gets a request for `/crash`, as a worker with a bug would.
 *
 * @module
 */
import { runWorker, type WorkerScope } from "../worker.ts";

runWorker(self as unknown as WorkerScope, {
  onRequest(req) {
    if (new URL(req.url).pathname === "/crash") {
      setTimeout(() => {
        throw new Error("a test crash");
      }, 0);
    }
  },
});
