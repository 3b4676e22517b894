// The GraphQL-over-HTTP audit of the npm package graphql-http (`auditServer`) against URL:
// node audit.mjs URL prints one JSON array of {name, status, reason}, status ok/warn/error.
import { auditServer } from "graphql-http";

const results = await auditServer({ url: process.argv[2] });
const shown = results.map(({ name, status, reason }) => ({ name, status, reason }));
console.log(JSON.stringify(shown));
