"""Tools the assistant can use while it answers: the time, timers and alarms (see `toolbox.py`)."""
