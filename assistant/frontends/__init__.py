"""The ways to run the assistant: the TUI, the plain console, the headless duplex mode and the demo."""
