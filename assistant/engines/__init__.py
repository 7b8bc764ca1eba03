"""The engines behind the core's ports: VAD, STT, LLM, TTS, their model files and how they are loaded."""
