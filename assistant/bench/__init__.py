"""`voice-assistant bench`: the latency benchmark, its spoken fixtures, and the naive sequential baseline."""
