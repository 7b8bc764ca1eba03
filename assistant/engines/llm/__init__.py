"""The language model backends: Ollama, embedded llama.cpp, and the fallback from one to the other."""
