// A GraphQL subscription through the npm `graphql-ws` client (graphql-transport-ws over the
// `ws` package), as an outside client would make it: node subscribe.mjs URL QUERY VARIABLES N
// prints each of the first N results as one JSON line, then ends the subscription; an error
// is printed as {"error": ...} and the exit code is 1.
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const [url, query, variables, count] = process.argv.slice(2);
const client = createClient({ url, webSocketImpl: WebSocket, retryAttempts: 0 });
let seen = 0;
try {
  await new Promise((resolve, reject) => {
    const unsubscribe = client.subscribe(
      { query, variables: JSON.parse(variables) },
      {
        next: (result) => {
          console.log(JSON.stringify(result));
          seen += 1;
          if (seen >= Number(count)) {
            unsubscribe();
            resolve();
          }
        },
        error: reject,
        complete: resolve,
      },
    );
  });
} catch (error) {
  const shown = Array.isArray(error) ? error : { code: error.code, reason: error.reason };
  console.log(JSON.stringify({ error: shown }));
  process.exitCode = 1;
}
await client.dispose();
