// The official OpenAI Node.js client against omnichat, unchanged but for its
// base URL and key (a JWT). Run by OpenAiApiTest.TheOfficialClientWorks:
//   OMNICHAT_OPENAI_MODULE=<node_modules/openai> OPENAI_BASE_URL=... OPENAI_API_KEY=<jwt> node openai_client.cjs
// Exits non-zero, saying what differed, when anything is not as OpenAI's API
// would answer.
const assert = require('node:assert/strict');
const OpenAI = require(process.env.OMNICHAT_OPENAI_MODULE);

async function main() {
  const client = new OpenAI({maxRetries: 0});

  const models = [];
  for await (const model of client.models.list()) models.push(model.id);
  assert.ok(models.includes('test-model'), `models: ${models}`);

  const completion = await client.chat.completions.create({
    model: 'test-model',
    messages: [{role: 'system', content: 'Be brief.'}, {role: 'user', content: 'hello'}],
    temperature: 0.5,
    max_tokens: 20,
  });
  assert.equal(completion.object, 'chat.completion');
  assert.equal(completion.choices[0].message.content, 'reply to: hello');
  assert.equal(completion.usage.total_tokens, 18);

  const stream = await client.chat.completions.create({
    model: 'test-model',
    messages: [{role: 'user', content: [{type: 'text', text: 'streamed'}]}],
    stream: true,
    stream_options: {include_usage: true},
  });
  let text = '';
  let usage = null;
  for await (const chunk of stream) {
    if (chunk.choices.length) text += chunk.choices[0].delta.content ?? '';
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(text, 'reply to: streamed');
  assert.equal(usage.completion_tokens, 7);

  await assert.rejects(
      client.chat.completions.create({model: 'no-such-model', messages: [{role: 'user', content: 'x'}]}),
      (e) => e instanceof OpenAI.NotFoundError && e.code === 'model_not_found');
  const anonymous = new OpenAI({apiKey: 'not-a-token', maxRetries: 0});
  await assert.rejects(anonymous.models.list(), (e) => e instanceof OpenAI.AuthenticationError);
  console.log('openai client: all checks passed');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
