"""`python -m assistant`: the same as the `voice-assistant` command."""

from assistant.cli import main

raise SystemExit(main())
