"""The heart: turn-taking, the reply, the conversation that joins them, and the types and ports they speak."""
