// Logs in with an SMS code, subscribes to one task's progress over
// GraphQL over WebSocket (graphql-transport-ws) and prints every event as a
// JSON line until the task is completed or voided.
//
//   YYQ_URL=http://127.0.0.1:8080 YYQ_PHONE=13800000000 YYQ_SMS_CODE=123456 \
//     YYQ_TASK_ID=<task id> node watch-task.mjs
//
// Request the code first with the sendSmsCode mutation (purpose LOGIN); in
// local mode read it with `cargo run --release -- outbox --phone <phone>`.

import { createClient } from "graphql-ws";
import WebSocket from "ws";

const url = process.env.YYQ_URL ?? "http://127.0.0.1:8080";
const phone = required("YYQ_PHONE");
const smsCode = required("YYQ_SMS_CODE");
const taskId = required("YYQ_TASK_ID");

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`set ${name}`);
    process.exit(2);
  }
  return value;
}

/** One GraphQL request over HTTP; throws with the API's error code. */
async function graphql(query, variables, token) {
  const response = await fetch(`${url}/graphql`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors?.length) {
    const [error] = body.errors;
    throw new Error(`${error.extensions?.code ?? "ERROR"}: ${error.message}`);
  }
  return body.data;
}

const { loginWithSms } = await graphql(
  `mutation Login($phone: String!, $smsCode: String!) {
     loginWithSms(phone: $phone, smsCode: $smsCode) { token }
   }`,
  { phone, smsCode },
);

const client = createClient({
  url: `${url.replace(/^http/, "ws")}/graphql/ws`,
  webSocketImpl: WebSocket,
  connectionParams: { authorization: `Bearer ${loginWithSms.token}` },
  on: { connected: () => console.log(JSON.stringify({ connected: true })) },
});

const events = client.iterate({
  query: `subscription Progress($taskId: ID!) {
    taskProgress(taskId: $taskId) {
      kind
      at
      signer { name status role { key } }
      task { id status }
    }
  }`,
  variables: { taskId },
});

let status = 0;
try {
  for await (const result of events) {
    if (result.errors?.length) {
      const [error] = result.errors;
      console.error(`${error.extensions?.code ?? "ERROR"}: ${error.message}`);
      status = 1;
      break;
    }
    const event = result.data.taskProgress;
    console.log(
      JSON.stringify({
        kind: event.kind,
        signer: event.signer?.role.key ?? null,
        signerStatus: event.signer?.status ?? null,
        taskStatus: event.task.status,
        at: event.at,
      }),
    );
    if (event.kind === "TASK_COMPLETED" || event.kind === "TASK_VOIDED") {
      break;
    }
  }
} finally {
  await client.dispose();
}
process.exit(status);
