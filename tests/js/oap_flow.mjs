#!/usr/bin/env node
// Replays Open Agent Platform's LangGraph calls with the JS SDK, the way the OAP web UI does.
//
// Usage: node tests/js/oap_flow.mjs <sdk package: sdk-0085 | sdk-latest>
// Environment:
//   OAP_AGENT_URL        server serving the default graphs (the OAP tools agent `agent`)
//   OAP_MAIN_URL         server serving the test graphs (the inbox part needs `hitl`)
//   OAP_SERVICE_API_KEY  the key OAP's Next.js server sends with `x-auth-scheme: langsmith`
//   OAP_USER_TOKEN       Supabase access token of a fresh user (the one using OAP)
//   OAP_OTHER_TOKEN      Supabase access token of a second fresh user (isolation checks)
//   OAP_MCP_URL          base URL of an MCP server with an `add` tool (the chat's mcp_config)
//
// Prints one JSON summary line on stdout. Exits 1 at the first failed check, naming it.
// The call list and bodies follow oap-ecosystem.md §2.3-§2.7 (OAP @ 9b2e1fd).

import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";

const sdkName = process.argv[2];
if (!sdkName) {
  console.error("usage: node oap_flow.mjs <sdk-0085|sdk-latest>");
  process.exit(2);
}
const { Client } = await import(sdkName);
const sdkVersion = JSON.parse(
  readFileSync(new URL(`./node_modules/${sdkName}/package.json`, import.meta.url), "utf8"),
).version;

function env(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`missing environment variable ${name}`);
    process.exit(2);
  }
  return value;
}

const AGENT_URL = env("OAP_AGENT_URL");
const MAIN_URL = env("OAP_MAIN_URL");
const SERVICE_KEY = env("OAP_SERVICE_API_KEY");
const USER_TOKEN = env("OAP_USER_TOKEN");
const OTHER_TOKEN = env("OAP_OTHER_TOKEN");
const MCP_URL = env("OAP_MCP_URL");

const EMPTY_API_KEYS = { OPENAI_API_KEY: "", ANTHROPIC_API_KEY: "", GOOGLE_API_KEY: "", TAVILY_API_KEY: "" };
const AGENT_CONFIG = {
  model_name: "openai:fake-model",
  temperature: 0.7,
  max_tokens: 4000,
  system_prompt: "You are a helpful assistant that has access to a variety of tools.",
  mcp_config: { url: MCP_URL, tools: ["add"], auth_required: false },
};
const ADD_ANSWER = "Tool said: 5. Anything else?";

// ------------------------------------------------------------------------------- checking

class CheckFailed extends Error {}
let checks = 0;
let step = "start";

function check(condition, message, detail) {
  checks += 1;
  if (!condition) {
    const shown = detail === undefined ? "" : `: ${JSON.stringify(detail)?.slice(0, 800)}`;
    throw new CheckFailed(`[${step}] ${message}${shown}`);
  }
}

async function expectHttpError(promise, status, message) {
  try {
    const value = await promise;
    check(false, `${message}: expected HTTP ${status}, got a result`, value);
  } catch (error) {
    if (error instanceof CheckFailed) throw error;
    check(error?.status === status, `${message}: expected HTTP ${status}`, String(error));
  }
}

// ------------------------------------------------------------------------------- clients

/** The browser's client: both headers carry the Supabase token (apps/web/src/lib/client.ts). */
function browserClient(apiUrl, token) {
  return new Client({
    apiUrl,
    defaultHeaders: { Authorization: `Bearer ${token}`, "x-supabase-access-token": token },
  });
}

/** The defaults route's service client: LangSmith scheme, API key, no Authorization. */
function serviceClient(apiUrl) {
  return new Client({ apiUrl, apiKey: SERVICE_KEY, defaultHeaders: { "x-auth-scheme": "langsmith" } });
}

/** The defaults route's user client: Authorization only. */
function routeUserClient(apiUrl, token) {
  return new Client({ apiUrl, defaultHeaders: { Authorization: `Bearer ${token}` } });
}

function humanMessage(text) {
  return { id: randomUUID(), type: "human", content: [{ type: "text", text }] };
}

function withoutThreadId(checkpoint) {
  const { thread_id: _ignored, ...rest } = checkpoint;
  return rest;
}

/** Run OAP's chat request and collect the events, as `useStream` consumes them. */
async function chatTurn(client, threadId, assistantId, { text, checkpoint }) {
  const created = [];
  const payload = {
    config: { configurable: { ...AGENT_CONFIG, apiKeys: EMPTY_API_KEYS } },
    metadata: { supabaseAccessToken: USER_TOKEN },
    streamMode: ["values", "messages-tuple", "custom"],
    streamSubgraphs: true,
    streamResumable: true,
    onDisconnect: "continue",
    onRunCreated: (meta) => created.push(meta),
  };
  if (text !== undefined) payload.input = { messages: [humanMessage(text)] };
  if (checkpoint !== undefined) payload.checkpoint = withoutThreadId(checkpoint);
  const events = [];
  for await (const event of client.runs.stream(threadId, assistantId, payload)) events.push(event);
  return { events, created };
}

/** What useStream builds from `messages` tuples: chunks concatenated per message id. */
function checkMessageTuples(events) {
  const byId = new Map();
  const tuples = events.filter((e) => e.event === "messages");
  check(tuples.length > 0, "the stream has messages events", events.map((e) => e.event));
  for (const { data } of tuples) {
    check(Array.isArray(data) && data.length === 2, "messages data is a [chunk, metadata] tuple", data);
    const [chunk, metadata] = data;
    check(typeof chunk.id === "string" && chunk.id.length > 0, "every message chunk has an id", chunk);
    check(typeof metadata?.langgraph_node === "string", "tuple metadata names the node", metadata);
    if (chunk.type === "AIMessageChunk" && typeof chunk.content === "string") {
      const parts = byId.get(chunk.id) ?? [];
      parts.push(chunk.content);
      byId.set(chunk.id, parts);
    }
  }
  return byId;
}

function lastValues(events) {
  const values = events.filter((e) => e.event === "values" && !("__interrupt__" in (e.data ?? {})));
  check(values.length > 0, "the stream has values events", events.map((e) => e.event));
  return values.at(-1).data;
}

function checkRunStream(events, created, threadId) {
  check(events.length > 0 && events[0].event === "metadata", "the first event is metadata", events[0]);
  const runId = events[0].data?.run_id;
  check(typeof runId === "string", "the metadata event carries run_id", events[0].data);
  check(!events.some((e) => e.event === "error"), "no error event", events.filter((e) => e.event === "error"));
  check(created.length === 1, "onRunCreated fired once (run id parsed from Content-Location)", created);
  check(created[0].run_id === runId, "Content-Location names the streamed run", { created, runId });
  check(created[0].thread_id === threadId, "Content-Location names the thread", created);
  return runId;
}

function checkHistoryShape(history, threadId) {
  check(Array.isArray(history) && history.length > 0, "history is a non-empty list", history);
  for (const state of history) {
    for (const key of ["values", "next", "tasks", "checkpoint", "parent_checkpoint", "metadata", "created_at"]) {
      check(key in state, `history state has ${key}`, Object.keys(state));
    }
    check(state.checkpoint.thread_id === threadId, "checkpoint.thread_id is the thread", state.checkpoint);
    check(state.checkpoint.checkpoint_ns === "", "checkpoint_ns is empty", state.checkpoint);
    check(typeof state.checkpoint.checkpoint_id === "string", "checkpoint_id is set", state.checkpoint);
  }
  for (let i = 1; i < history.length; i += 1) {
    check(history[i - 1].created_at >= history[i].created_at, "history is newest first", [i]);
  }
  check(history.at(-1).parent_checkpoint === null, "the oldest state has no parent", history.at(-1));
}

// ------------------------------------------------------------------------------- the flow

const summary = { sdk: sdkName, version: sdkVersion };

async function defaultsRoute() {
  step = "defaults";
  const service = serviceClient(AGENT_URL);
  const user = routeUserClient(AGENT_URL, USER_TOKEN);
  const [system, userDefaults] = await Promise.all([
    service.assistants.search({ limit: 100, metadata: { created_by: "system" } }),
    user.assistants.search({ limit: 100, metadata: { _x_oap_is_default: true } }),
  ]);
  check(system.length > 0, "the service identity finds system assistants", system);
  check(system.every((a) => a.metadata?.created_by === "system"), "all are created_by system", system);
  check(system.some((a) => a.graph_id === "agent"), "the agent graph has a system assistant", system);
  check(userDefaults.length === 0, "a new user has no default assistants yet", userDefaults);
  const created = [];
  for (const assistant of system) {
    const primary = assistant.graph_id === "agent";
    created.push(
      await user.assistants.create({
        graphId: assistant.graph_id,
        name: `${primary ? "Default" : "Primary"} Assistant`,
        metadata: {
          _x_oap_is_default: true,
          description: `${primary ? "Default" : "Primary"}  Assistant`,
          ...(primary && { _x_oap_is_primary: true }),
        },
      }),
    );
  }
  const again = await user.assistants.search({ limit: 100, metadata: { _x_oap_is_default: true } });
  check(again.length === system.length, "one user default per system assistant", { again, system });
  const primary = created.find((a) => a.graph_id === "agent");
  check(primary.name === "Default Assistant", "the default assistant keeps its name", primary);
  check(primary.metadata._x_oap_is_primary === true, "the primary flag is kept", primary.metadata);
  check(primary.metadata.description === "Default  Assistant", "description kept verbatim", primary.metadata);
  for (const key of ["assistant_id", "graph_id", "name", "config", "metadata", "created_at", "updated_at", "version"]) {
    check(key in primary, `assistant has ${key}`, Object.keys(primary));
  }
  summary.system_assistants = system.length;
  return primary;
}

async function agentsCrud(client, defaultAssistant) {
  step = "agents";
  const listed = await client.assistants.search({ limit: 100, offset: 0 });
  check(
    listed.some((a) => a.assistant_id === defaultAssistant.assistant_id),
    "the agent list includes the user's default assistant",
    listed.map((a) => a.assistant_id),
  );

  step = "schemas";
  const schemas = await client.assistants.getSchemas(defaultAssistant.assistant_id);
  const properties = schemas?.config_schema?.properties ?? {};
  const ui = Object.fromEntries(
    Object.entries(properties).map(([k, p]) => [k, p.x_oap_ui_config ?? p.metadata?.x_oap_ui_config]),
  );
  for (const field of ["model_name", "temperature", "max_tokens", "system_prompt", "mcp_config", "rag"]) {
    check(ui[field] && typeof ui[field].type === "string", `x_oap_ui_config for ${field}`, properties[field]);
  }
  check(ui.mcp_config.type === "mcp" && ui.rag.type === "rag", "mcp and rag UI types (tools, rag configs)", ui);
  check(ui.model_name.options?.length === 11, "the 11 model options", ui.model_name);
  summary.config_fields = Object.keys(properties).length;

  step = "agents";
  const agent = await client.assistants.create({
    graphId: "agent",
    name: "Calculator",
    metadata: { description: "Adds numbers with MCP" },
    config: { configurable: AGENT_CONFIG },
  });
  check(agent.metadata.description === "Adds numbers with MCP", "create keeps metadata", agent.metadata);
  check(agent.config.configurable.mcp_config.url === MCP_URL, "create keeps the configurable", agent.config);
  const fetched = await client.assistants.get(agent.assistant_id);
  check(fetched.assistant_id === agent.assistant_id && fetched.name === "Calculator", "get", fetched);

  const newConfig = { configurable: { ...AGENT_CONFIG, system_prompt: "Be brief." } };
  const updated = await client.assistants.update(agent.assistant_id, {
    metadata: {},
    name: "Calculator 2",
    config: newConfig,
  });
  check(updated.metadata.description === "Adds numbers with MCP", "PATCH merges metadata {}", updated.metadata);
  check(updated.name === "Calculator 2", "PATCH sets the name", updated);
  check(updated.config.configurable.system_prompt === "Be brief.", "PATCH replaces config", updated.config);
  check(updated.version > agent.version, "PATCH bumps the version", [agent.version, updated.version]);
  const described = await client.assistants.update(agent.assistant_id, { metadata: { description: "New" } });
  check(described.metadata.description === "New", "PATCH updates a metadata key", described.metadata);
  check(described.name === "Calculator 2", "PATCH without name keeps it", described);

  const doomed = await client.assistants.create({ graphId: "agent", name: "Doomed", metadata: { description: "x" } });
  const deleted = await client.assistants.delete(doomed.assistant_id);
  check(deleted === undefined || deleted === null, "DELETE resolves without a body", deleted);
  await expectHttpError(client.assistants.get(doomed.assistant_id), 404, "a deleted assistant is gone");
  return described;
}

async function chat(client, agent) {
  step = "chat";
  const thread = await client.threads.create({ metadata: {} });
  check(typeof thread.thread_id === "string", "POST /threads returns thread_id", thread);
  const threadId = thread.thread_id;

  const first = await chatTurn(client, threadId, agent.assistant_id, { text: "please use add a=2 b=3" });
  const runId = checkRunStream(first.events, first.created, threadId);
  const deltas = checkMessageTuples(first.events);
  const values = lastValues(first.events);
  const types = values.messages.map((m) => m.type);
  check(JSON.stringify(types) === '["human","ai","tool","ai"]', "tool conversation in values", types);
  const answer = values.messages.at(-1);
  const answerParts = deltas.get(answer.id) ?? [];
  check(answerParts.filter(Boolean).length > 3, "the answer streamed in several deltas", answerParts);
  check(answerParts.join("") === answer.content, "deltas concatenate to the final answer", answerParts);
  check(answer.content === ADD_ANSWER, "the tool result reached the model", answer.content);
  const toolTuples = first.events.filter((e) => e.event === "messages" && e.data[0].type === "tool");
  check(toolTuples.length === 1 && toolTuples[0].data[0].content === "5", "the tool message streamed", toolTuples);
  summary.run_id = runId;

  step = "thread-search";
  const found = await client.threads.search({ limit: 100, offset: 0, metadata: { assistant_id: agent.assistant_id } });
  check(found.some((t) => t.thread_id === threadId), "the thread is found by metadata.assistant_id", found);

  step = "history";
  let history = await client.threads.getHistory(threadId, { limit: 1000 });
  checkHistoryShape(history, threadId);
  for (let i = 1; i < history.length; i += 1) {
    check(
      history[i - 1].parent_checkpoint?.checkpoint_id === history[i].checkpoint.checkpoint_id,
      "each state's parent is the next older state",
      [i],
    );
  }
  check(JSON.stringify(history[0].values) === JSON.stringify(values), "history[0] is the final state", history[0]);
  check(history[0].next.length === 0, "the head has no next node", history[0].next);
  const state = await client.threads.getState(threadId);
  check(state.checkpoint.checkpoint_id === history[0].checkpoint.checkpoint_id, "state is the history head", state);

  step = "second-turn";
  const second = await chatTurn(client, threadId, agent.assistant_id, {
    text: "thanks",
    checkpoint: history[0].checkpoint,
  });
  checkRunStream(second.events, second.created, threadId);
  const firstValues = second.events.find((e) => e.event === "values").data;
  check(firstValues.messages.length === 5, "the first values event is the whole thread", firstValues);
  const secondValues = lastValues(second.events);
  check(secondValues.messages.length === 6, "the second turn continues the thread", secondValues.messages.length);
  check(secondValues.messages.at(-1).content === "You said: thanks", "second answer", secondValues.messages.at(-1));
  history = await client.threads.getHistory(threadId, { limit: 1000 });
  checkHistoryShape(history, threadId);

  step = "regenerate";
  // OAP regenerates from the parent checkpoint of the first state that holds the message.
  const lastAi = history[0].values.messages.at(-1);
  const firstSeen = [...history].reverse().find((s) => s.values?.messages?.some((m) => m.id === lastAi.id));
  const parent = firstSeen.parent_checkpoint;
  check(parent && parent.checkpoint_id, "the regenerated message has a parent checkpoint", firstSeen);
  const regen = await chatTurn(client, threadId, agent.assistant_id, { checkpoint: parent });
  checkRunStream(regen.events, regen.created, threadId);
  checkMessageTuples(regen.events);
  const regenValues = lastValues(regen.events);
  check(regenValues.messages.length === 6, "regenerate replaces the last answer", regenValues.messages.length);
  check(regenValues.messages.at(-1).id !== lastAi.id, "the regenerated answer is a new message", lastAi.id);
  check(regenValues.messages.at(-1).content === "You said: thanks", "same prompt, same answer", regenValues);
  const afterRegen = await client.threads.getHistory(threadId, { limit: 1000 });
  checkHistoryShape(afterRegen, threadId);
  check(afterRegen.length > history.length, "the fork adds checkpoints", [history.length, afterRegen.length]);
  let cursor = afterRegen[0];
  const byId = new Map(afterRegen.map((s) => [s.checkpoint.checkpoint_id, s]));
  while (cursor && cursor.checkpoint.checkpoint_id !== parent.checkpoint_id) {
    cursor = byId.get(cursor.parent_checkpoint?.checkpoint_id);
  }
  check(cursor !== undefined, "the new head descends from the regenerate checkpoint", parent);
  summary.history_length = afterRegen.length;
  return { threadId };
}

async function isolation(other, agent, threadId) {
  step = "isolation";
  await expectHttpError(other.assistants.get(agent.assistant_id), 404, "another user's assistant");
  await expectHttpError(other.assistants.getSchemas(agent.assistant_id), 404, "another user's schemas");
  await expectHttpError(
    other.assistants.update(agent.assistant_id, { metadata: { description: "mine" } }),
    404,
    "patching another user's assistant",
  );
  await expectHttpError(other.threads.get(threadId), 404, "another user's thread");
  await expectHttpError(other.threads.getState(threadId), 404, "another user's state");
  await expectHttpError(other.threads.getHistory(threadId, { limit: 1000 }), 404, "another user's history");
  const assistants = await other.assistants.search({ limit: 100, offset: 0 });
  check(!assistants.some((a) => a.assistant_id === agent.assistant_id), "search hides others' assistants", assistants);
  const threads = await other.threads.search({ limit: 100, offset: 0, metadata: { assistant_id: agent.assistant_id } });
  check(threads.length === 0, "thread search hides others' threads", threads);
}

async function inbox(client, other) {
  step = "inbox";
  const reviewer = await client.assistants.create({ graphId: "hitl", name: "Reviewer", metadata: { description: "r" } });
  const aid = reviewer.assistant_id;
  const interrupted = [];
  for (let i = 0; i < 3; i += 1) {
    const { thread_id: tid } = await client.threads.create({ metadata: {} });
    const events = [];
    const stream = client.runs.stream(tid, aid, {
      input: { messages: [humanMessage(`draft a plan #${i}`)] },
      streamMode: ["values", "messages-tuple", "custom"],
    });
    for await (const event of stream) events.push(event);
    check(!events.some((e) => e.event === "error"), "the hitl run pauses without error", events);
    interrupted.push(tid);
  }
  const search = { offset: 0, limit: 100, status: "interrupted", metadata: { assistant_id: aid } };
  const listed = await client.threads.search(search);
  check(listed.length === 3, "the inbox lists the interrupted threads", listed.map((t) => t.status));
  const [toResume, toIgnore, toResumeInBackground] = interrupted;

  const thread = await client.threads.get(toResume);
  check(thread.status === "interrupted", "the thread is interrupted", thread.status);
  const interrupts = Object.values(thread.interrupts ?? {}).flat();
  check(interrupts.length === 1, "thread.interrupts maps a task to its interrupt", thread.interrupts);
  check(interrupts[0].value?.question === "Approve the draft?", "the interrupt value", interrupts[0]);
  const state = await client.threads.getState(toResume);
  check(JSON.stringify(state.next) === '["review"]', "state.next names the paused node", state.next);
  const taskInterrupts = state.tasks.at(-1)?.interrupts ?? [];
  check(taskInterrupts[0]?.value?.question === "Approve the draft?", "the task carries the interrupt", state.tasks);

  step = "inbox-resume";
  const response = [{ type: "accept", args: null }];
  const events = [];
  for await (const event of client.runs.stream(toResume, aid, { command: { resume: response }, streamMode: "events" })) {
    events.push(event);
  }
  const starts = events.filter((e) => e.event === "events" && e.data?.event === "on_chain_start");
  check(starts.some((e) => e.data.metadata?.langgraph_node === "finish"), "events name the resumed nodes", starts);
  const resumed = await client.threads.getState(toResume);
  check(resumed.next.length === 0, "the resumed thread is done", resumed.next);
  const decision = resumed.values.messages.at(-1).content;
  const prefix = "Decision recorded: ";
  check(decision.startsWith(prefix), "the graph recorded a decision", decision);
  const recorded = JSON.parse(decision.slice(prefix.length));
  check(JSON.stringify(recorded) === JSON.stringify(response), "the resume value reached the graph", decision);
  check((await client.threads.get(toResume)).status === "idle", "the resumed thread is idle", toResume);

  step = "inbox-ignore";
  await client.threads.updateState(toIgnore, { values: null, asNode: "__end__" });
  const ignored = await client.threads.get(toIgnore);
  check(ignored.status === "idle", "an ignored thread is idle", ignored.status);
  check((await client.threads.getState(toIgnore)).next.length === 0, "an ignored thread has no next", toIgnore);

  step = "inbox-background";
  const run = await client.runs.create(toResumeInBackground, aid, { command: { resume: [{ type: "response", args: "ok" }] } });
  await client.runs.join(toResumeInBackground, run.run_id);
  const background = await client.threads.getState(toResumeInBackground);
  check(background.next.length === 0, "a background resume finishes the thread", background.next);

  const remaining = await client.threads.search(search);
  check(remaining.length === 0, "the inbox is empty afterwards", remaining.map((t) => t.thread_id));
  const othersInbox = await other.threads.search({ ...search, status: undefined });
  check(othersInbox.length === 0, "another user's inbox does not show these threads", othersInbox);
  await expectHttpError(other.threads.get(toResume), 404, "another user's inbox thread");
  for (const tid of interrupted) {
    const result = await client.threads.delete(tid);
    check(result === undefined || result === null, "thread DELETE resolves without a body", result);
  }
  await client.assistants.delete(aid);
  summary.inbox_threads = interrupted.length;
}

try {
  const client = browserClient(AGENT_URL, USER_TOKEN);
  const other = browserClient(AGENT_URL, OTHER_TOKEN);
  const defaultAssistant = await defaultsRoute();
  const agent = await agentsCrud(client, defaultAssistant);
  const { threadId } = await chat(client, agent);
  await isolation(other, agent, threadId);
  await inbox(browserClient(MAIN_URL, USER_TOKEN), browserClient(MAIN_URL, OTHER_TOKEN));
  step = "cleanup";
  await client.threads.delete(threadId);
  await client.assistants.delete(agent.assistant_id);
  console.log(JSON.stringify({ ok: true, checks, ...summary }));
} catch (error) {
  const message = error instanceof CheckFailed ? error.message : `[${step}] ${error?.stack ?? error}`;
  console.log(JSON.stringify({ ok: false, checks, ...summary, error: message }));
  console.error(message);
  process.exit(1);
}
