// Verifies one delivery with the Standard Webhooks reference library, as a receiver
// would: reads {"secret", "headers", "body"} as JSON on stdin; exits 0 and prints the
// verified payload, or exits 1 with the library's reason.
import { Webhook } from "standardwebhooks";

let input = "";
for await (const chunk of process.stdin) input += chunk;
const { secret, headers, body } = JSON.parse(input);
try {
  const payload = new Webhook(secret).verify(body, headers);
  process.stdout.write(JSON.stringify(payload));
} catch (err) {
  process.stderr.write(`not verified: ${err.message}\n`);
  process.exit(1);
}
