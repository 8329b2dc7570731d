-- wrk: the chat-completions request omnichat sends, straight to the fake upstream.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench"
wrk.body = '{"model":"bench","messages":[{"role":"user","content":"hello from the benchmark"}],' ..
           '"stream":true,"stream_options":{"include_usage":true}}'
